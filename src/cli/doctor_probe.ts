// What `mcp-oauth doctor` knows how to ask a deployment: plain HTTP requests as an agent (or a
// browser running one) would send them, with a timeout, never following redirects, and the
// certificate of an https origin. Nothing here reads this server's configuration or database: the
// doctor looks from the outside.
import { connect as tlsConnect } from 'node:tls';
import { isLoopbackHost } from '../lib/loopback.js';

export interface ProbeResponse {
  status: number;
  headers: Headers;
  text: string;
  json: Record<string, unknown> | undefined;
}

export interface Probe {
  request(
    url: string,
    init?: { method?: string; headers?: Record<string, string>; body?: string },
  ): Promise<ProbeResponse | { error: string }>;
  /** Days until the certificate of an https origin expires, or why it could not be read. */
  certificate(url: URL): Promise<{ daysLeft: number } | { error: string }>;
}

const MAX_BODY = 256 * 1024;

export function createProbe(timeoutMs = 10_000): Probe {
  return {
    async request(url, init = {}) {
      try {
        const res = await fetch(url, {
          method: init.method ?? 'GET',
          headers: { 'user-agent': 'mcp-oauth-doctor', ...init.headers },
          body: init.body,
          redirect: 'manual',
          signal: AbortSignal.timeout(timeoutMs),
        });
        const text = (await res.text()).slice(0, MAX_BODY);
        let json: Record<string, unknown> | undefined;
        try {
          const parsed: unknown = JSON.parse(text);
          if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) json = parsed as Record<string, unknown>;
        } catch {
          json = undefined;
        }
        return { status: res.status, headers: res.headers, text, json };
      } catch (err) {
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        return { error: cause?.code ?? cause?.message ?? (err as Error).name };
      }
    },
    certificate(url) {
      return new Promise((resolve) => {
        const socket = tlsConnect({
          host: url.hostname,
          port: Number(url.port || 443),
          servername: isLoopbackHost(url.hostname) ? undefined : url.hostname,
          timeout: timeoutMs,
        });
        const done = (r: { daysLeft: number } | { error: string }) => {
          socket.destroy();
          resolve(r);
        };
        socket.once('secureConnect', () => {
          if (!socket.authorized) return done({ error: String(socket.authorizationError ?? 'not trusted') });
          const validTo = Date.parse(socket.getPeerCertificate().valid_to);
          done({ daysLeft: Math.floor((validTo - Date.now()) / 86_400_000) });
        });
        socket.once('timeout', () => done({ error: 'timeout' }));
        socket.once('error', (err: NodeJS.ErrnoException) => done({ error: err.code ?? err.message }));
      });
    },
  };
}

export const isFailure = (r: ProbeResponse | { error: string }): r is { error: string } => 'error' in r;
