/**
 * Builds and starts a pbx from a validated config: transport, transactions, stack, media, registry,
 * protection, B2BUA, HTTP servers. main.ts adds the command line and signals; tests start it
 * in-process.
 */
import { hostname, networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import { systemClock } from './core/clock.js';
import type { Clock } from './core/clock.js';
import { randomIds } from './core/ids.js';
import type { IdSource } from './core/ids.js';
import type { Logger } from './core/logger.js';
import type { PbxConfig } from './config/index.js';
import { createB2bua } from './b2bua/b2bua.js';
import { createForwarder } from './b2bua/forward.js';
import { createCluster } from './cluster/index.js';
import type { B2bua } from './b2bua/b2bua.js';
import type { B2buaContext } from './b2bua/context.js';
import { createEventPipeline } from './events/index.js';
import type { EventSink } from './events/index.js';
import { createDrainController } from './drain.js';
import type { DrainController } from './drain.js';
import { createMetrics } from './http/metrics.js';
import type { PbxMetrics } from './http/metrics.js';
import { registerApi } from './http/api.js';
import { loadTokens } from './http/auth.js';
import type { TokenStore } from './http/auth.js';
import { startHealthServer, startMetricsServer } from './http/servers.js';
import { pinoLevel } from './core/logger.js';
import type { LogLevel } from './core/logger.js';
import type { HttpServer } from './http/servers.js';
import { createPortPool } from './media/ports/index.js';
import { createRelayCounters, relayTotals, resolveRelayEngine } from './media/relay/index.js';
import {
  OVERLOAD_REASONS,
  createEventLoopProbe,
  createInviteGate,
  createLoadShedder,
  createOverloadGuard,
  createRateLimiter,
  createScannerFilter,
} from './protect/index.js';
import type { LoopProbe, OverloadGuard } from './protect/index.js';
import { uriHost } from './sip/index.js';
import { createSipStack } from './stack/index.js';
import { createTransactionLayer } from './transaction/index.js';
import type { TransactionLayer } from './transaction/index.js';
import { createTransport, readUdpDrops } from './transport/index.js';
import type { UdpReceiveBuffer } from './transport/index.js';
import { registryConfig } from './cluster/registry-config.js';

/** A running pbx. */
export interface PbxApp {
  readonly sip: { readonly address: string; readonly port: number };
  readonly httpPort: number;
  readonly metricsPort: number;
  readonly b2bua: B2bua;
  readonly transactions: TransactionLayer;
  readonly metrics: PbxMetrics;
  readonly drain: DrainController;
  /** The RFC 3261 timers in force. */
  readonly timers: { readonly t1Ms: number };
  /** Management API tokens (reloaded on SIGHUP). */
  readonly tokens: TokenStore;
  /** The RTP relay engine in use (`media.relayEngine` resolved: native when its addon is built). */
  readonly relayEngine: 'native' | 'node';
  /** The SIP UDP socket's receive buffer, requested and granted (`sip.udpReceiveBufferBytes`); undefined without UDP. */
  readonly sipUdpReceiveBuffer: UdpReceiveBuffer | undefined;
  /** Closes listeners and timers (calls are not ended: drain first). */
  stop(): Promise<void>;
}

/** Injection points for tests. */
export interface PbxAppOptions {
  readonly clock?: Clock;
  readonly ids?: IdSource;
  readonly events?: EventSink;
}

/** The address written into Via/Contact: the configured one, the bind address, or the first non-loopback IPv4. */
export function advertisedAddress(configured: string | null, listen: string): string {
  if (configured !== null) return configured;
  if (listen !== '0.0.0.0' && listen !== '::') return listen;
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

/** The config spelling of a pino level. */
function configLevel(level: string): LogLevel {
  return level === 'warn' ? 'warning' : level === 'debug' || level === 'error' ? level : 'info';
}

/**
 * The overload guard from config: `media.maxCalls`, `limits.maxMemoryMb` and `limits.overload` (an event-loop
 * probe and load shedder, and the calls-in-setup cap). The probe runs a native timer: stop() closes it.
 */
function overloadProtection(
  config: PbxConfig,
  clock: Clock,
  callsInSetup: () => number,
): { overloadGuard: OverloadGuard; loopProbe: LoopProbe | undefined } {
  const { overload } = config.limits;
  const loopProbe = overload.enabled ? createEventLoopProbe({ clock }) : undefined;
  const overloadGuard = createOverloadGuard({
    maxCalls: config.media.maxCalls,
    maxMemoryMb: config.limits.maxMemoryMb,
    clock,
    overloadRetryAfterSeconds: overload.retryAfterSeconds,
    ...(loopProbe === undefined
      ? {}
      : {
          shedder: createLoadShedder({
            clock,
            probe: loopProbe,
            maxEventLoopDelayMs: overload.maxEventLoopDelayMs,
            maxEventLoopUtilization: overload.maxEventLoopUtilization,
          }),
        }),
    ...(overload.enabled && overload.maxCallsInSetup !== null
      ? { callsInSetup: { max: overload.maxCallsInSetup, count: callsInSetup } }
      : {}),
  });
  return { overloadGuard, loopProbe };
}

/** Starts a pbx. */
export async function startPbxApp(
  config: PbxConfig,
  logger: Logger,
  opts: PbxAppOptions = {},
): Promise<PbxApp> {
  // Token files are read before anything binds: a bad one stops startup with PBX_ERR_CONFIG.
  const tokens = await loadTokens(config.http.auth.tokens);
  const clock = opts.clock ?? systemClock();
  const ids = opts.ids ?? randomIds();
  const metrics = createMetrics();
  const transport = createTransport({
    listen: config.sip.listen,
    port: config.sip.port,
    udp: config.sip.transports.includes('udp'),
    tcp: config.sip.transports.includes('tcp'),
    maxMessageBytes: config.sip.maxMessageBytes,
    tcpIdleTimeoutMs: config.sip.tcpIdleTimeoutSeconds * 1000,
    maxTcpConnections: config.sip.maxTcpConnections,
    udpReceiveBufferBytes: config.sip.udpReceiveBufferBytes,
    clock,
  });
  transport.onError((kind, detail) => {
    if (kind === 'framing') metrics.sipMalformed.inc();
    logger.debug({ kind, err: detail.error.message, address: detail.address }, 'transport error');
  });
  const transactions = createTransactionLayer({
    clock,
    send: (data, dest) => transport.send(dest, data),
    timers: { ...config.sip.timers },
  });
  const stack = createSipStack({
    transport,
    transactions,
    limits: {
      maxMessageBytes: config.sip.maxMessageBytes,
      maxHeaders: config.sip.limits.maxHeaders,
      maxHeaderLineBytes: config.sip.limits.maxHeaderLineBytes,
      maxUriParams: config.sip.limits.maxUriParams,
    },
    metrics,
    logger,
    server: config.sip.userAgent,
    // Timer B: how long a caller retransmits the INVITE a 503 refused.
    refusals: { clock, ttlMs: 64 * config.sip.timers.t1Ms },
  });
  await transport.start();
  const bound = transport.address();
  const sipHost = uriHost(advertisedAddress(config.sip.advertisedAddress, config.sip.listen));
  const mediaAddress =
    config.media.advertisedAddress ??
    (isIP(sipHost.replace(/^\[|\]$/g, '')) !== 0
      ? sipHost.replace(/^\[|\]$/g, '')
      : advertisedAddress(null, '0.0.0.0'));
  const pool = createPortPool({
    start: config.media.portRange.start,
    end: config.media.portRange.end,
    portsPerCall: config.media.portsPerCall,
    maxCalls: config.media.maxCalls,
    clock,
  });
  // Fails the start (a clear config error) when media.relayEngine is native but the addon is missing.
  const relayEngine = resolveRelayEngine(config.media.relayEngine);
  const counters = createRelayCounters();
  const transcoded = { 'a-to-b': 0, 'b-to-a': 0 };
  const pipeline = createEventPipeline({
    config,
    logger,
    clock,
    onWebhookResult: (result) => metrics.webhookDeliveries.inc({ result }),
  });
  // The pod's view of the shared registry (memory or Redis). It never waits for Redis: a pbx starts and
  // serves calls from local state while Redis is down, and re-syncs when it comes up.
  const late: { b2bua?: B2bua; drain?: DrainController } = {};
  const cluster = createCluster({
    registry: registryConfig(config.registry),
    pod: process.env.POD_NAME ?? hostname(),
    sipAddress: `${sipHost}:${bound.port}`,
    clock,
    logger,
    runState: () => late.drain?.state() ?? 'running',
    onError: () => metrics.registryErrors.inc(),
  });
  const locations = cluster.locations;
  const { overloadGuard, loopProbe } = overloadProtection(
    config,
    clock,
    () => late.b2bua?.callsInSetup() ?? 0,
  );
  const gate = createInviteGate({
    rateLimiter: createRateLimiter({ ratePerSecond: config.limits.invitesPerSecondPerIp, clock }),
    scannerFilter: createScannerFilter([...config.limits.scannerUserAgents]),
    overloadGuard,
    action: config.limits.rateLimitAction,
  });
  const ctx: B2buaContext = {
    clock,
    wallClock: () => Date.now(),
    ids,
    transactions,
    local: {
      udp: { transport: 'udp', host: sipHost, port: bound.port },
      tcp: { transport: 'tcp', host: sipHost, port: bound.port },
    },
    tcpAvailable: config.sip.transports.includes('tcp'),
    respond: (tx, res) => stack.respond(tx, res),
    send: (data, dest) => transport.send(dest, data),
    media: {
      pool,
      listen: config.media.listen,
      advertised: mediaAddress,
      clock,
      counters,
      engine: relayEngine,
      transcode: config.media.transcode,
      transcoded,
      ...(config.media.inactivityTimeoutSeconds === null
        ? {}
        : { inactivityTimeoutMs: config.media.inactivityTimeoutSeconds * 1000 }),
    },
    events: opts.events ?? pipeline.sink,
    metrics: {
      inviteTo100: (seconds) => metrics.inviteTo100.observe(seconds),
      callEnded: (result) => metrics.callsTotal.inc({ result }),
    },
    timers: {
      t1Ms: config.sip.timers.t1Ms,
      t2Ms: config.sip.timers.t2Ms,
      noAnswerMs: config.routing.noAnswerTimeoutSeconds * 1000,
    },
    sessionTimers: { ...config.sip.sessionTimers },
    logger,
    userAgent: config.sip.userAgent,
  };
  const drain = createDrainController({
    clock,
    wallClock: () => Date.now(),
    activeCalls: () => late.b2bua?.activeCalls() ?? 0,
    endAll: (reason) => late.b2bua?.endAll(reason) ?? Promise.resolve(),
    defaultTimeoutSeconds: config.shutdown.drainTimeoutSeconds,
  });
  const b2bua = createB2bua({
    ctx,
    routes: config.routing.routes.map((r) => ({ match: new RegExp(r.match), target: r.target })),
    locations,
    gate,
    locationClock: () => Date.now(),
    accepting: () => drain.state() === 'running',
    onCallStarted: (call) => cluster.callStarted(call.id, call.legs, Date.now()),
    onCallEnded: (call) => {
      cluster.callEnded(call.id);
      drain.callEnded();
    },
    ...(cluster.shared ? { forwarder: createForwarder(ctx, cluster) } : {}),
  });
  late.b2bua = b2bua;
  late.drain = drain;
  const drainer = drain;
  stack.setUser(b2bua);
  transactions.onStrayResponse(() => undefined);
  metrics.bind({
    activeCalls: () => b2bua.activeCalls(),
    portsInUse: () => pool.inUse(),
    portsTotal: () => pool.total(),
    registrations: () => locations.count(),
    draining: () => drainer.state() !== 'running',
    rtp: () => {
      const totals = relayTotals(counters);
      return { packets: totals.rtpPackets, dropped: totals.dropped, transcoded };
    },
    rateLimited: () => gate.counters().rateLimited,
    transactions: () => transactions.size(),
    overloadRejected: () => {
      const { refused } = gate.counters();
      return Object.fromEntries(OVERLOAD_REASONS.map((reason) => [reason, refused[reason]]));
    },
    overload: () => {
      const status = overloadGuard.status(b2bua.activeCalls());
      return {
        overloaded: status.reason !== null,
        acceptRatio: status.acceptRatio,
        eventLoopDelaySeconds: status.eventLoopDelayMs / 1000,
        eventLoopUtilization: status.eventLoopUtilization,
      };
    },
    sipUdpReceiveBufferBytes: () => transport.udpReceiveBuffer()?.grantedBytes,
    sipUdpKernelDrops: () =>
      transport.udpReceiveBuffer() === undefined
        ? Promise.resolve(undefined)
        : readUdpDrops({ address: config.sip.listen, port: bound.port }),
  });
  const health = await startHealthServer(
    config.http.listen,
    config.http.port,
    () => {
      const activeCalls = b2bua.activeCalls();
      const overloaded = overloadGuard.status(activeCalls).reason !== null;
      return { status: 'ok', state: drainer.state(), activeCalls, overloaded };
    },
    (app) =>
      registerApi(app, {
        tokens,
        calls: () => b2bua.calls(),
        stats: async () => ({
          activeCalls: b2bua.activeCalls(),
          ports: { inUse: pool.inUse(), total: pool.total() },
          registrations: await locations.count(),
          state: drainer.state(),
          transactions: transactions.size(),
        }),
        drain: (seconds) => drainer.drain(seconds),
        drainStatus: () => drainer.status(),
        cancelDrain: () => drainer.cancel(),
        getLogLevel: () => configLevel(logger.level),
        setLogLevel: (level) => {
          logger.level = pinoLevel(level);
        },
        logger,
      }),
  );
  const metricsServer: HttpServer = await startMetricsServer(
    config.http.listen,
    config.metrics.port,
    metrics.registry,
  );
  return {
    sip: bound,
    httpPort: health.port,
    metricsPort: metricsServer.port,
    b2bua,
    transactions,
    metrics,
    drain: drainer,
    timers: { t1Ms: config.sip.timers.t1Ms },
    tokens,
    relayEngine,
    sipUdpReceiveBuffer: transport.udpReceiveBuffer(),
    async stop() {
      drainer.close();
      loopProbe?.close();
      transactions.stop();
      pool.close();
      await pipeline.close({ flushTimeoutMs: 1000 });
      await Promise.all([transport.stop(), health.close(), metricsServer.close(), cluster.close()]);
    },
  };
}
