import pino, { type Logger } from 'pino';

export type { Logger };

// Defence in depth: even if a request or error object is logged whole, these never leave.
const REDACT = [
  'req.headers.authorization',
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
];

export function createLogger(level: string = 'info', destination?: pino.DestinationStream): Logger {
  return pino({ level, base: undefined, redact: { paths: REDACT, censor: '[redacted]' } }, destination);
}
