/** The pbx's Prometheus registry; metric names are a public contract (CONTRACTS.md "Metrics"). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Live values read at scrape time. */
export interface MetricSources {
  activeCalls(): number;
  portsInUse(): number;
  portsTotal(): number;
  registrations(): Promise<number>;
  draining(): boolean;
  /** Aggregate relay counters: packets by direction, drops by reason. */
  rtp(): {
    packets: Readonly<Record<string, number>>;
    dropped: Readonly<Record<string, number>>;
    /** Packets the transcoders sent on (`media.transcode`), by direction. */
    transcoded: Readonly<Record<string, number>>;
  };
  /** Refusals by the per-source rate limit since start. */
  rateLimited(): number;
  /** Live SIP transactions (RFC 3261 §17), client and server. */
  transactions(): { client: number; server: number };
  /** SO_RCVBUF the kernel granted the SIP UDP socket; undefined without UDP. */
  sipUdpReceiveBufferBytes(): number | undefined;
  /** Datagrams the kernel dropped on the SIP UDP socket (/proc/net/udp `drops`); undefined when unknown. */
  sipUdpKernelDrops(): Promise<number | undefined>;
  /** New INVITEs refused by the overload guard since start, by reason. */
  overloadRejected(): Readonly<Record<string, number>>;
  /** The overload guard's signals now. */
  overload(): {
    readonly overloaded: boolean;
    readonly acceptRatio: number;
    readonly eventLoopDelaySeconds: number;
    readonly eventLoopUtilization: number;
  };
}

/** Every metric the pbx updates, created once per process (or per test). */
export interface PbxMetrics {
  readonly registry: Registry;
  readonly sipRequests: Counter<'method'>;
  readonly sipResponses: Counter<'code'>;
  readonly sipMalformed: Counter;
  readonly callsTotal: Counter<'result'>;
  readonly inviteTo100: Histogram;
  readonly registryErrors: Counter;
  readonly webhookDeliveries: Counter<'result'>;
  /** Connects the gauges to their live sources. */
  bind(sources: MetricSources): void;
}

/** Creates the registry with the default Node.js process metrics and the pbx metrics. */
export function createMetrics(options: { defaultMetrics?: boolean } = {}): PbxMetrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  let sources: MetricSources | undefined;
  const gauge = (name: string, help: string, read: (s: MetricSources) => number | Promise<number>): void => {
    new Gauge({
      name,
      help,
      registers,
      async collect() {
        if (sources !== undefined) this.set(await read(sources));
      },
    });
  };
  gauge('sippbx_calls_active', 'Calls in progress (ringing or answered)', (s) => s.activeCalls());
  gauge('sippbx_media_ports_in_use', 'Media relay ports leased to calls', (s) => s.portsInUse());
  gauge('sippbx_media_ports_total', 'Media relay ports this pbx may lease', (s) => s.portsTotal());
  gauge('sippbx_registrations_active', 'Unexpired registrar bindings', (s) => s.registrations());
  gauge('sippbx_draining', '1 while the pbx drains (no new calls), else 0', (s) => (s.draining() ? 1 : 0));
  new Gauge({
    name: 'sippbx_sip_transactions',
    help: 'Live SIP transactions, by kind (client, server)',
    labelNames: ['kind'],
    registers,
    collect() {
      if (sources === undefined) return;
      const t = sources.transactions();
      this.set({ kind: 'client' }, t.client);
      this.set({ kind: 'server' }, t.server);
    },
  });
  /** A counter read at scrape time from per-label totals kept by the relay (hot path: plain increments). */
  const tally = (
    name: string,
    help: string,
    label: string,
    read: (s: MetricSources) => Readonly<Record<string, number>>,
  ): void => {
    new Counter({
      name,
      help,
      labelNames: [label],
      registers,
      collect() {
        if (sources === undefined) return;
        this.reset();
        for (const [value, n] of Object.entries(read(sources))) this.inc({ [label]: value }, n);
      },
    });
  };
  tally('sippbx_rtp_packets_total', 'RTP packets relayed, by direction', 'direction', (s) => s.rtp().packets);
  tally(
    'sippbx_rtp_transcoded_total',
    'RTP packets the relay transcoded (media.transcode), by direction',
    'direction',
    (s) => s.rtp().transcoded,
  );
  tally(
    'sippbx_rtp_dropped_total',
    'RTP/RTCP packets dropped by the relay, by reason',
    'reason',
    (s) => s.rtp().dropped,
  );
  new Gauge({
    name: 'sippbx_sip_udp_receive_buffer_bytes',
    help: 'Receive buffer (SO_RCVBUF) the kernel granted the SIP UDP socket (sip.udpReceiveBufferBytes)',
    registers,
    collect() {
      const bytes = sources?.sipUdpReceiveBufferBytes();
      if (bytes !== undefined) this.set(bytes);
    },
  });
  new Counter({
    name: 'sippbx_sip_udp_kernel_drops_total',
    help: 'Datagrams the kernel dropped on the SIP UDP socket (receive buffer full), from /proc/net/udp',
    registers,
    async collect() {
      const drops = await sources?.sipUdpKernelDrops();
      this.reset();
      if (drops !== undefined) this.inc(drops);
    },
  });
  tally(
    'sippbx_overload_rejected_total',
    'New INVITEs refused with 503 by the overload guard, by reason',
    'reason',
    (s) => s.overloadRejected(),
  );
  gauge('sippbx_overloaded', '1 while the overload guard refuses new calls (some or all), else 0', (s) =>
    s.overload().overloaded ? 1 : 0,
  );
  gauge(
    'sippbx_overload_accept_ratio',
    'Fraction of new INVITEs the load shedder admits (1: all)',
    (s) => s.overload().acceptRatio,
  );
  gauge(
    'sippbx_event_loop_delay_seconds',
    'Smoothed event-loop delay (p99 per 100 ms window) the load shedder acts on',
    (s) => s.overload().eventLoopDelaySeconds,
  );
  gauge(
    'sippbx_event_loop_utilization',
    'Smoothed event-loop utilization (0..1) the load shedder acts on',
    (s) => s.overload().eventLoopUtilization,
  );
  new Counter({
    name: 'sippbx_rate_limited_total',
    help: 'New INVITEs refused by the per-source rate limit',
    registers,
    collect() {
      if (sources === undefined) return;
      this.reset();
      this.inc(sources.rateLimited());
    },
  });
  const metrics: PbxMetrics = {
    registry,
    sipRequests: new Counter({
      name: 'sippbx_sip_requests_total',
      help: 'SIP requests received, one per transaction (retransmissions are not counted), by method',
      labelNames: ['method'],
      registers,
    }),
    sipResponses: new Counter({
      name: 'sippbx_sip_responses_total',
      help: 'SIP responses sent by the pbx, by status code',
      labelNames: ['code'],
      registers,
    }),
    sipMalformed: new Counter({
      name: 'sippbx_sip_malformed_total',
      help: 'SIP messages dropped or refused because they could not be parsed or were invalid',
      registers,
    }),
    callsTotal: new Counter({
      name: 'sippbx_calls_total',
      help: 'Calls ended, by result (answered, busy, no-answer, cancelled, failed, rejected)',
      labelNames: ['result'],
      registers,
    }),
    inviteTo100: new Histogram({
      name: 'sippbx_invite_to_100_seconds',
      help: 'Time from receiving a new INVITE to sending 100 Trying',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers,
    }),
    registryErrors: new Counter({
      name: 'sippbx_registry_errors_total',
      help: 'Failed operations on the shared registry (Redis)',
      registers,
    }),
    webhookDeliveries: new Counter({
      name: 'sippbx_webhook_deliveries_total',
      help: 'Webhook delivery attempts, by result',
      labelNames: ['result'],
      registers,
    }),
    bind(s) {
      sources = s;
    },
  };
  // Known label values start at 0, so every series exists from the first scrape (rate() and alerts
  // need the zero, and a dashboard should not show "no data" before the first call).
  for (const result of ['answered', 'busy', 'no-answer', 'cancelled', 'failed', 'rejected'])
    metrics.callsTotal.inc({ result }, 0);
  for (const result of ['delivered', 'retry', 'failed', 'dead-letter'])
    metrics.webhookDeliveries.inc({ result }, 0);
  for (const method of ['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'UPDATE', 'PRACK', 'INFO']) {
    metrics.sipRequests.inc({ method }, 0);
  }
  for (const code of ['100', '180', '183', '200', '400', '404', '408', '480', '486', '487', '488', '503']) {
    metrics.sipResponses.inc({ code }, 0);
  }
  return metrics;
}
