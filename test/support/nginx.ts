// Debian's nginx as a child process with a temporary prefix on 127.0.0.1, as a round-robin load
// balancer in front of several authorization-server nodes (test/cluster). One worker process, so
// consecutive requests go to consecutive nodes whoever sends them; the access log names the node
// that answered each request.
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { waitFor } from './wait.js';

export const NGINX = process.env.NGINX_PATH ?? '/usr/sbin/nginx';

export const haveNginx = (() => {
  try {
    accessSync(NGINX, constants.X_OK);
    return true;
  } catch {
    return false;
  }
})();

export interface LoadBalancer {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  port: number;
  /** The node (host:port) that answered each request so far, oldest first. */
  answeredBy(): string[];
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/**
 * Round robin over `upstreams` (`127.0.0.1:port` each) on `port` (a free one when not given). A
 * node that refuses connections (killed) is skipped and the request goes to the next one; a
 * request already sent to a node that then dies is not repeated elsewhere (nginx never retries a
 * non-idempotent request), so the client sees the failure, as behind any real balancer.
 */
export async function startLoadBalancer(upstreams: string[], opts: { port?: number } = {}): Promise<LoadBalancer> {
  const prefix = mkdtempSync(path.join(tmpdir(), 'mcp-oauth-lb-'));
  const port = opts.port ?? (await freePort());
  const log = path.join(prefix, 'access.log');
  writeFileSync(
    path.join(prefix, 'nginx.conf'),
    [
      'daemon off;',
      'worker_processes 1;',
      `pid ${path.join(prefix, 'nginx.pid')};`,
      `error_log ${path.join(prefix, 'error.log')} warn;`,
      'events { worker_connections 1024; }',
      'http {',
      "  log_format nodes '$upstream_addr|$status|$request_method|$uri';",
      `  access_log ${log} nodes;`,
      `  client_body_temp_path ${path.join(prefix, 'body')};`,
      `  proxy_temp_path ${path.join(prefix, 'proxy')};`,
      `  fastcgi_temp_path ${path.join(prefix, 'fastcgi')};`,
      `  uwsgi_temp_path ${path.join(prefix, 'uwsgi')};`,
      `  scgi_temp_path ${path.join(prefix, 'scgi')};`,
      '  upstream nodes {',
      ...upstreams.map((u) => `    server ${u} max_fails=0;`),
      '  }',
      '  server {',
      `    listen 127.0.0.1:${port};`,
      '    location / {',
      '      proxy_pass http://nodes;',
      '      proxy_http_version 1.1;',
      '      proxy_set_header Connection "";',
      '      proxy_set_header Host $http_host;',
      '      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
      '      proxy_set_header X-Forwarded-Proto $scheme;',
      // Server-sent events (the revocation feed) must flow as they are written.
      '      proxy_buffering off;',
      '      proxy_read_timeout 1h;',
      '      proxy_next_upstream error timeout;',
      '      proxy_connect_timeout 2s;',
      '    }',
      '  }',
      '}',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(
    NGINX,
    ['-e', path.join(prefix, 'error.log'), '-p', prefix, '-c', path.join(prefix, 'nginx.conf')],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const origin = `http://127.0.0.1:${port}`;
  const errorLog = () => {
    try {
      return readFileSync(path.join(prefix, 'error.log'), 'utf8');
    } catch {
      return '';
    }
  };
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr} ${errorLog()}`);
        // nginx names itself in the Server header of what it proxies: an answer without it came
        // from something else that holds the port, which must fail here, not pass the tests by.
        return fetch(`${origin}/healthz`)
          .then((res) => {
            if (!(res.headers.get('server') ?? '').startsWith('nginx'))
              throw new Error(`port ${port} is answered by something other than nginx`);
            return true;
          })
          .catch((err: Error) => {
            if (err.message.startsWith('port ')) throw err;
            return false;
          });
      },
      'nginx to accept connections',
      { intervalMs: 50 },
    );
  } catch (err) {
    child.kill('SIGTERM');
    throw err;
  }
  return {
    origin,
    port,
    answeredBy() {
      let text = '';
      try {
        text = readFileSync(log, 'utf8');
      } catch {
        return [];
      }
      return (
        text
          .split('\n')
          .filter(Boolean)
          // A request retried after a refused connection names every node it tried: the last answered.
          .map((line) => (line.split('|')[0] ?? '').split(', ').at(-1) ?? '')
      );
    },
    async close() {
      // Not a graceful quit: that would wait for open revocation streams to end.
      child.kill('SIGTERM');
      await exited;
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}
