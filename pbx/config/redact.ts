// redactConfig: a copy of the configuration that is safe to log (no tokens, secrets or URL passwords).
import type { PbxConfig } from './schema.js';

/** What replaces every secret in a redacted configuration. */
export const REDACTED = '***';

/** Replaces the user-info password (or a lone user name, which some Redis clients read as one) in a URL. */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url.replace(/\/\/[^/@]*@/, `//${REDACTED}@`);
  }
  if (parsed.password !== '') parsed.password = REDACTED;
  else if (parsed.username !== '') parsed.username = REDACTED;
  else return url;
  return parsed.toString();
}

/** Returns a copy of `cfg` safe to log: tokens, webhook secrets and passwords in URLs become "***". */
export function redactConfig(cfg: PbxConfig): PbxConfig {
  return {
    ...cfg,
    registry: { ...cfg.registry, redis: { ...cfg.registry.redis, url: redactUrl(cfg.registry.redis.url) } },
    events: {
      ...cfg.events,
      webhooks: cfg.events.webhooks.map((hook) => ({
        ...hook,
        url: redactUrl(hook.url),
        secret: hook.secret === null ? null : REDACTED,
      })),
    },
    http: {
      ...cfg.http,
      auth: {
        ...cfg.http.auth,
        tokens: cfg.http.auth.tokens.map((t) =>
          t.token === undefined ? { ...t } : { ...t, token: REDACTED },
        ),
      },
    },
  };
}
