/** The pbx process: configuration, wiring of I/O to logic, signals. */
import { parseArgs } from 'node:util';
import { PbxError } from './core/errors.js';
import { createLogger } from './core/logger.js';
import type { Logger } from './core/logger.js';
import { ConfigError, loadConfig, redactConfig } from './config/index.js';
import type { PbxConfig } from './config/index.js';
import { startPbxApp } from './app.js';
import type { PbxApp } from './app.js';

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

/** Logs the line that tells tests and people the pbx is ready, with the ports it bound. */
function logReady(app: PbxApp, config: PbxConfig, logger: Logger): void {
  logger.info(
    {
      sip: app.sip,
      transports: config.sip.transports,
      http: { port: app.httpPort },
      metrics: { port: app.metricsPort },
      relayEngine: app.relayEngine,
      // What the kernel granted (Linux: twice the request, capped at 2 × net.core.rmem_max).
      sipUdpReceiveBuffer: app.sipUdpReceiveBuffer ?? null,
    },
    'pbx ready',
  );
}

/** Waits until no transaction waits for a final response (or `maxMs` passes), then 2×T1 more. */
async function settle(app: PbxApp, maxMs: number): Promise<void> {
  const until = Date.now() + maxMs;
  while (app.transactions.unanswered() > 0 && Date.now() < until) await delay(50);
  await delay(2 * app.timers.t1Ms);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
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

/**
 * SIGTERM drains (ARCHITECTURE.md "Drain"): the process exits 0 once the last call ends or the drain
 * deadline has ended the rest. A second SIGTERM changes nothing. A drain asked for over the API (the
 * operator before a scale-down or rollout) leaves the process up once drained — not ready, refusing new
 * calls — until SIGTERM, which then exits at once: exiting would only make Kubernetes restart the
 * container as a fresh, ready pbx that takes calls in the pod about to be removed. SIGINT (a person at a
 * terminal) ends every call at once and exits. SIGHUP re-reads the management API token files.
 */
function handleSignals(app: PbxApp, logger: Logger): void {
  let exiting = false;
  const exit = (code: number): void => {
    if (exiting) return;
    exiting = true;
    app.stop().then(
      () => process.exit(code),
      (err: unknown) => {
        logger.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  let terminating = false;
  let drained = false;
  const exitDrained = async (): Promise<void> => {
    // The last call's BYEs are still in flight: let their transactions get final responses (bounded)
    // and give the sockets a moment to flush before the process goes.
    await settle(app, 10_000);
    logger.info({ unanswered: app.transactions.unanswered() }, 'pbx drained');
    exit(0);
  };
  void app.drain.drained().then(async () => {
    drained = true;
    if (terminating) return exitDrained();
    logger.info('pbx drained: staying up, not ready, until SIGTERM');
  });
  process.on('SIGTERM', () => {
    const first = !terminating;
    terminating = true;
    const status = app.drain.drain();
    logger.info({ signal: 'SIGTERM', ...status }, 'pbx draining');
    if (first && drained) void exitDrained();
  });
  process.on('SIGINT', () => {
    logger.info({ signal: 'SIGINT' }, 'pbx stopping now');
    app.b2bua.endAll('shutdown').then(
      () => exit(0),
      () => exit(1),
    );
  });
  process.on('SIGUSR2', () => onHeapSignal(logger));
  process.on('SIGHUP', () => {
    app.tokens.reload().then(
      () => logger.info('management API tokens reloaded'),
      (err: unknown) =>
        logger.error({ err: err instanceof Error ? err.message : String(err) }, 'token reload failed'),
    );
  });
}

async function main(): Promise<void> {
  const config = configure(process.argv.slice(2));
  const logger = createLogger(config.logging.level);
  logger.debug({ config: redactConfig(config) }, 'configuration');
  let app: PbxApp;
  try {
    app = await startPbxApp(config, logger);
  } catch (err) {
    if (err instanceof PbxError && err.code === 'PBX_ERR_CONFIG') {
      process.stderr.write(`sippbx: invalid configuration\n${err.message}\n`);
      process.exit(2);
    }
    logger.error({ err }, 'pbx failed to start');
    process.exit(1);
  }
  // Signal handlers first: a SIGTERM right after "pbx ready" must drain, not kill.
  handleSignals(app, logger);
  logReady(app, config, logger);
}

await main();
