// The agent's side of the browser redirect: a listener on 127.0.0.1 that receives the
// authorization response (RFC 8252 §7.3, loopback redirect). It accepts only the answer to the
// sign-in this agent started: the `state` must match, and the `iss` parameter must name the
// authorization server the agent discovered (RFC 9207, against mix-up attacks).
import { once } from 'node:events';
import { createServer } from 'node:http';

const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  // The address carries the authorization code: never let it leave in a Referer.
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'none'",
};

function page(res, status, message) {
  res.writeHead(status, PAGE_HEADERS);
  res.end(`<!doctype html><meta charset="utf-8"><title>MCP example agent</title><p>${message}</p>`);
}

/** Printable text from a parameter another party chose: no control characters, bounded. */
export function printable(value) {
  return String(value)
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, '?')
    .slice(0, 300);
}

/**
 * Starts the listener. `expect()` arms it for one authorization request and returns a promise of
 * the code; answers that do not belong to it are refused with 400 and leave it armed.
 */
export async function startLoopback({ port = 0, path = '/callback', log = () => {} } = {}) {
  let pending;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method !== 'GET' || url.pathname !== path) {
      page(res, 404, 'Not found.');
      return;
    }
    if (!pending) {
      page(res, 400, 'This agent is not waiting for a sign-in.');
      return;
    }
    const q = url.searchParams;
    if (q.get('state') !== pending.state) {
      log('Redirect: refused an answer whose state does not match the sign-in this agent started');
      page(res, 400, 'This answer does not belong to the sign-in this agent started. Nothing was done.');
      return;
    }
    const iss = q.get('iss');
    if ((iss === null && pending.issRequired) || (iss !== null && iss !== pending.issuer)) {
      settle(new Error(`the answer came from ${printable(iss ?? 'an unnamed server')}, not ${pending.issuer}`));
      page(res, 400, 'This answer names another authorization server. Nothing was done.');
      return;
    }
    const error = q.get('error');
    if (error !== null) {
      const description = q.get('error_description');
      settle(
        new Error(`access was not granted: ${printable(error)}${description ? ` (${printable(description)})` : ''}`),
      );
      page(res, 200, 'Access was not granted. You can close this window.');
      return;
    }
    const code = q.get('code');
    if (!code) {
      page(res, 400, 'The answer carries no authorization code.');
      return;
    }
    settle(undefined, code);
    page(res, 200, 'Signed in. You can close this window and go back to the terminal.');
  });

  function settle(error, code) {
    const p = pending;
    pending = undefined;
    if (!p) return;
    clearTimeout(p.timer);
    if (error) p.reject(error);
    else p.resolve(code);
  }

  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const actualPort = server.address().port;
  return {
    redirectUrl: `http://127.0.0.1:${actualPort}${path}`,
    /** Arms the listener for the authorization request carrying `state`. */
    expect({ state, issuer, issRequired, timeoutMs }) {
      if (pending) settle(new Error('a new sign-in replaced the one in progress'));
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => settle(new Error(`no answer from the browser within ${Math.round(timeoutMs / 1000)} s`)),
          timeoutMs,
        );
        timer.unref();
        pending = { state, issuer, issRequired, resolve, reject, timer };
      });
    },
    async close() {
      const closed = new Promise((resolve) => server.close(resolve));
      server.closeAllConnections();
      await closed;
    },
  };
}
