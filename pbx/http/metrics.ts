/** The pbx's Prometheus registry; metric names are a public contract (CONTRACTS.md "Metrics"). */
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';

/** Every metric the pbx updates, created once per process (or per test). */
export interface PbxMetrics {
  readonly registry: Registry;
  readonly sipRequests: Counter<'method'>;
  readonly sipResponses: Counter<'code'>;
  readonly sipMalformed: Counter;
}

/** Creates the registry with the default Node.js process metrics and the SIP metrics. */
export function createMetrics(options: { defaultMetrics?: boolean } = {}): PbxMetrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  return {
    registry,
    sipRequests: new Counter({
      name: 'sippbx_sip_requests_total',
      help: 'SIP requests received, one per transaction (retransmissions are not counted), by method',
      labelNames: ['method'],
      registers: [registry],
    }),
    sipResponses: new Counter({
      name: 'sippbx_sip_responses_total',
      help: 'SIP responses sent by the pbx, by status code',
      labelNames: ['code'],
      registers: [registry],
    }),
    sipMalformed: new Counter({
      name: 'sippbx_sip_malformed_total',
      help: 'SIP messages dropped or refused because they could not be parsed or were invalid',
      registers: [registry],
    }),
  };
}
