// Liveness (the process answers) and readiness (keys loaded, feed in sync, issuer as configured).
import type { ServerResponse } from 'node:http';
import type { AuthorizationServer } from '../authorization_server.js';
import { sendJson } from '../exchange.js';

export const liveness = (res: ServerResponse) => sendJson(res, 200, { status: 'ok' });

export function readiness(as: AuthorizationServer) {
  return (res: ServerResponse) => {
    const checks = as.checks();
    const ok = Object.values(checks).every(Boolean);
    sendJson(res, ok ? 200 : 503, { status: ok ? 'ready' : 'not_ready', checks });
  };
}
