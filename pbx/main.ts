/** The pbx process: configuration, wiring of I/O to logic, signals. */
import { parseArgs } from 'node:util';
import { systemClock } from './core/clock.js';
import { randomIds } from './core/ids.js';
import { createLogger } from './core/logger.js';
import type { Logger } from './core/logger.js';
import { ConfigError, loadConfig, redactConfig } from './config/index.js';
import type { PbxConfig } from './config/index.js';
import { createMetrics } from './http/metrics.js';
import { startHealthServer, startMetricsServer } from './http/servers.js';
import type { HttpServer } from './http/servers.js';
import { localResponse } from './b2bua/local-uas.js';
import { createSipStack } from './stack/index.js';
import { createTransactionLayer } from './transaction/index.js';
import { createTransport } from './transport/index.js';

const USAGE = `usage: node dist/pbx/main.js [--config FILE] [--listen ADDR] [--sip-port N] [--http-port N]
                              [--metrics-port N] [--log-level debug|info|warning|error]
Flags override the config file; SIPPBX_* environment variables override both (docs/configuration.md).`;

/** Parses the command line into a config file name and overrides. */
function readFlags(argv: string[]): { file: string | undefined; overrides: Record<string, unknown> } {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      listen: { type: 'string' },
      'sip-port': { type: 'string' },
      'http-port': { type: 'string' },
      'metrics-port': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const overrides: Record<string, Record<string, unknown>> = {};
  const set = (section: string, key: string, value: unknown): void => {
    overrides[section] = { ...overrides[section], [key]: value };
  };
  if (values.listen !== undefined) set('sip', 'listen', values.listen);
  if (values['sip-port'] !== undefined) set('sip', 'port', Number(values['sip-port']));
  if (values['http-port'] !== undefined) set('http', 'port', Number(values['http-port']));
  if (values['metrics-port'] !== undefined) set('metrics', 'port', Number(values['metrics-port']));
  if (values['log-level'] !== undefined) set('logging', 'level', values['log-level']);
  return { file: values.config, overrides };
}

/** Loads the configuration or exits non-zero naming the offending key. */
function configure(argv: string[]): PbxConfig {
  try {
    const { file, overrides } = readFlags(argv);
    return loadConfig({ ...(file === undefined ? {} : { file }), env: process.env, overrides });
  } catch (err) {
    const message = err instanceof ConfigError || err instanceof TypeError ? err.message : String(err);
    process.stderr.write(`sippbx: invalid configuration\n${message}\n${USAGE}\n`);
    process.exit(2);
  }
}

async function start(config: PbxConfig, logger: Logger): Promise<() => Promise<void>> {
  const clock = systemClock();
  const ids = randomIds();
  const metrics = createMetrics();
  const transport = createTransport({
    listen: config.sip.listen,
    port: config.sip.port,
    udp: config.sip.transports.includes('udp'),
    tcp: config.sip.transports.includes('tcp'),
    maxMessageBytes: config.sip.maxMessageBytes,
    tcpIdleTimeoutMs: config.sip.tcpIdleTimeoutSeconds * 1000,
    maxTcpConnections: config.sip.maxTcpConnections,
    clock,
  });
  transport.onError((kind, detail) => {
    if (kind === 'framing') metrics.sipMalformed.inc();
    logger.debug({ kind, err: detail.error.message, address: detail.address }, 'transport error');
  });
  const transactions = createTransactionLayer({
    clock,
    send: (data, dest) => transport.send(dest, data),
    timers: { t1Ms: config.sip.timers.t1Ms, t2Ms: config.sip.timers.t2Ms, t4Ms: config.sip.timers.t4Ms },
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
  });
  const uas = { userAgent: config.sip.userAgent, toTag: () => ids.token(8), wallClock: () => Date.now() };
  stack.setUser({
    onRequest(tx, req) {
      const res = localResponse(req, uas);
      if (res !== undefined) stack.respond(tx, res);
    },
    onAck() {
      // No dialogs yet: an ACK for a 2xx we never sent is absorbed (RFC 3261 §17.2.3).
    },
  });
  await transport.start();
  const servers: HttpServer[] = [];
  servers.push(
    await startHealthServer(config.http.listen, config.http.port, () => ({
      status: 'ok',
      state: 'running',
      activeCalls: 0,
    })),
  );
  servers.push(await startMetricsServer(config.http.listen, config.metrics.port, metrics.registry));
  logger.info(
    {
      sip: transport.address(),
      transports: config.sip.transports,
      http: { port: servers[0]?.port },
      metrics: { port: servers[1]?.port },
    },
    'pbx ready',
  );
  return async () => {
    transactions.stop();
    await Promise.all([transport.stop(), ...servers.map((s) => s.close())]);
  };
}

/** SIGUSR2: a diagnostic heap reading after a full GC (only with `node --expose-gc`). */
function onHeapSignal(logger: Logger): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) {
    logger.warn('heap after gc needs node --expose-gc');
    return;
  }
  gc();
  logger.info({ heapUsed: process.memoryUsage().heapUsed }, 'heap after gc');
}

async function main(): Promise<void> {
  const config = configure(process.argv.slice(2));
  const logger = createLogger(config.logging.level);
  logger.debug({ config: redactConfig(config) }, 'configuration');
  let stop: () => Promise<void>;
  try {
    stop = await start(config, logger);
  } catch (err) {
    logger.error({ err }, 'pbx failed to start');
    process.exit(1);
  }
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'pbx stopping');
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGUSR2', () => onHeapSignal(logger));
}

await main();
