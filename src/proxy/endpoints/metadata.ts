// RFC 9728 protected resource metadata, at the path-based well-known URL of each route and at the
// root one (MCP Inspector v1 ignores the `resource_metadata` hint and asks there).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Route, sendJson } from '../exchange.js';
import { WELL_KNOWN } from '../routes.js';

export const isMetadataPath = (path: string) => path === WELL_KNOWN || path.startsWith(`${WELL_KNOWN}/`);

export function metadataEndpoint(routes: ReadonlyMap<string, Route>) {
  const first = routes.values().next().value as Route;
  const root = routes.get('/') ?? first;
  return (path: string, req: IncomingMessage, res: ServerResponse) => {
    const rest = path.slice(WELL_KNOWN.length);
    const route = rest === '' || rest === '/' ? root : routes.get(rest);
    if (!route) {
      sendJson(res, 404, { error: 'not_found' });
      return;
    }
    const cors = { 'access-control-allow-origin': '*', 'cache-control': 'public, max-age=300' };
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { ...cors, 'access-control-allow-methods': 'GET', 'access-control-allow-headers': '*' }).end();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, 405, { error: 'method_not_allowed' }, { allow: 'GET, HEAD' });
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', ...cors });
    res.end(req.method === 'HEAD' ? undefined : route.metadata);
  };
}
