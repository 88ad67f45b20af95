/** The pbx process: configuration, wiring of I/O to logic, signals. */
import { parseArgs } from 'node:util';
import { createLogger } from './core/logger.js';
import type { Logger } from './core/logger.js';
import { ConfigError, loadConfig, redactConfig } from './config/index.js';
import type { PbxConfig } from './config/index.js';
import { startPbxApp } from './app.js';

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
  const app = await startPbxApp(config, logger);
  logger.info(
    {
      sip: app.sip,
      transports: config.sip.transports,
      http: { port: app.httpPort },
      metrics: { port: app.metricsPort },
    },
    'pbx ready',
  );
  return () => app.stop();
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
