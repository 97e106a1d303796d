// Structured JSON logs (pino), human-readable when a person is watching (stdout is a terminal).
// Every line written while a request is being handled carries its request id (`reqId`), taken
// from async context, so callers need not thread a child logger through every function.
import { AsyncLocalStorage } from 'node:async_hooks';
import { createRequire } from 'node:module';
import pino, { type Logger } from 'pino';

export type { Logger };

// Defence in depth: even if a request or error object is logged whole, these never leave. One list
// for both processes (the authorization server and the resource proxy).
const REDACT = [
  'req.headers.authorization',
  // A DPoP proof is good for one request within its minute: a credential while it lasts.
  'req.headers.dpop',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  '*.password',
  '*.client_secret',
  '*.code',
  '*.code_verifier',
  '*.refresh_token',
  '*.access_token',
  '*.token',
  '*.registration_access_token',
  '*.secret',
];

interface RequestScope {
  requestId: string;
}

const scope = new AsyncLocalStorage<RequestScope>();

/** Runs `fn` (and everything it awaits) as part of the request with this id. */
export function withRequestId<T>(requestId: string, fn: () => T): T {
  return scope.run({ requestId }, fn);
}

/** The id of the request being handled, if any. */
export function currentRequestId(): string | undefined {
  return scope.getStore()?.requestId;
}

type Destination = pino.DestinationStream & { isTTY?: boolean };

// Loaded only for a terminal: servers in containers and the CLI never pay for it.
function prettyStream(out: Destination): pino.DestinationStream {
  const require = createRequire(import.meta.url);
  const build = require('pino-pretty') as typeof import('pino-pretty').build;
  return build({ destination: out, sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' });
}

export interface LoggerOptions {
  /** `auto` (default): pretty when the destination is a terminal; `json` or `pretty` to force one. */
  format?: 'auto' | 'json' | 'pretty';
  /** Added to every line (the proxy names itself, so mixed log streams can be told apart). */
  service?: string;
}

/**
 * `destination` defaults to stdout. When it is a terminal, lines are pretty-printed (same fields,
 * same redaction: redaction happens before formatting).
 */
export function createLogger(level: string = 'info', destination?: Destination, opts: LoggerOptions = {}): Logger {
  const format = opts.format ?? 'auto';
  const out: Destination | undefined =
    destination ?? (process.stdout.isTTY || format === 'pretty' ? process.stdout : undefined);
  const pretty = level !== 'silent' && (format === 'pretty' || (format === 'auto' && out?.isTTY === true));
  const stream = pretty && out ? prettyStream(out) : out;
  return pino(
    {
      level,
      base: opts.service === undefined ? undefined : { service: opts.service },
      redact: { paths: REDACT, censor: '[redacted]' },
      mixin: () => {
        const requestId = scope.getStore()?.requestId;
        return requestId === undefined ? {} : { reqId: requestId };
      },
    },
    stream,
  );
}
