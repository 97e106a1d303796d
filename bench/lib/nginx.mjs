// nginx as a plain pass-through reverse proxy (reference for scenario 4): a child process with a
// temp prefix, listening on 127.0.0.1 only, keep-alive to the upstream, no logging, no buffering.
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

function config(dir, port, upstreamPort) {
  const t = (name) => path.join(dir, name);
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
  upstream mcp { server 127.0.0.1:${upstreamPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://mcp;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
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

export async function startNginx(upstreamPort) {
  const dir = mkdtempSync(path.join(tmpdir(), 'mcp-oauth-bench-nginx-'));
  mkdirSync(path.join(dir, 'logs'));
  const port = await freePort();
  writeFileSync(path.join(dir, 'nginx.conf'), config(dir, port, upstreamPort));
  const child = spawn(NGINX, ['-p', dir, '-c', path.join(dir, 'nginx.conf')], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const entry = { child, dir };
  running.add(entry);
  await Promise.race([
    waitForPort(port, 10_000),
    exited.then((code) => {
      throw new Error(`nginx exited with ${code}`);
    }),
  ]);
  return {
    url: `http://127.0.0.1:${port}`,
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
