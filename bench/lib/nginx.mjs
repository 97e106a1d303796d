// nginx as a plain pass-through reverse proxy (reference for scenario 4), or as the round-robin
// load balancer in front of several server nodes (scenario cluster_tokens): a child process with a
// temp prefix, listening on 127.0.0.1 only, keep-alive to the upstreams, no logging, no buffering.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, rssOf } from './proc.mjs';

export const NGINX = process.env.NGINX_PATH ?? '/usr/sbin/nginx';

export const nginxAvailable = () => existsSync(NGINX);

/** nginx processes still running, stopped by stopAllNginx() if the run is interrupted. */
const running = new Set();

export function stopAllNginx() {
  for (const { child, dir } of running) {
    child.kill('SIGQUIT');
    rmSync(dir, { recursive: true, force: true });
  }
  running.clear();
}

/**
 * fronts: [{ port, upstreams: [port, ...] }], one listener each, round robin over its upstreams.
 * `balancer` also passes the client's Host and X-Forwarded-* on, as a load balancer in front of
 * server nodes must (the nodes state the balancer's address as their issuer).
 */
function config(dir, fronts, { balancer = false } = {}) {
  const t = (name) => path.join(dir, name);
  const forward = balancer
    ? `
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;`
    : '';
  const blocks = fronts.map(({ port, upstreams }, i) => {
    const servers = upstreams.map((u) => `server 127.0.0.1:${u}; `).join('');
    return `  upstream mcp${i || ''} { ${servers}keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://mcp${i || ''};
      proxy_http_version 1.1;
      proxy_set_header Connection "";${forward}
      proxy_buffering off;
    }
  }
`;
  });
  return `worker_processes 1;
daemon off;
master_process on;
pid ${t('nginx.pid')};
error_log ${t('error.log')} warn;
${process.getuid?.() === 0 ? 'user root root;' : ''}
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${t('body')};
  proxy_temp_path ${t('proxy')};
  fastcgi_temp_path ${t('fastcgi')};
  uwsgi_temp_path ${t('uwsgi')};
  scgi_temp_path ${t('scgi')};
${blocks.join('')}}
`;
}

async function waitForPort(port, timeoutMs) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const ok = await new Promise((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.end();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nginx did not listen on ${port} within ${timeoutMs} ms`);
}

/** nginx in front of one upstream (scenario 4's pass-through reference). */
export async function startNginx(upstreamPort) {
  const n = await startNginxFronts([[upstreamPort]]);
  return { url: n.urls[0], rss: n.rss, stop: n.stop };
}

/**
 * One nginx process with a listener per entry of `frontUpstreams` (each a list of upstream ports,
 * round robin); resolves to { urls, pid, rss(), stop() }.
 */
export async function startNginxFronts(frontUpstreams, options = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'mcp-oauth-bench-nginx-'));
  mkdirSync(path.join(dir, 'logs'));
  const fronts = [];
  for (const upstreams of frontUpstreams) fronts.push({ port: await freePort(), upstreams });
  writeFileSync(path.join(dir, 'nginx.conf'), config(dir, fronts, options));
  const child = spawn(NGINX, ['-p', dir, '-c', path.join(dir, 'nginx.conf')], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const entry = { child, dir };
  running.add(entry);
  await Promise.race([
    Promise.all(fronts.map(({ port }) => waitForPort(port, 10_000))),
    exited.then((code) => {
      throw new Error(`nginx exited with ${code}`);
    }),
  ]);
  return {
    urls: fronts.map(({ port }) => `http://127.0.0.1:${port}`),
    pid: child.pid,
    rss: () => rssOf(child.pid),
    async stop() {
      child.kill('SIGQUIT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      running.delete(entry);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
