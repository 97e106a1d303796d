// Sanity check of the browser test setup: Debian's Chromium, driven by playwright-core, loads a
// page from a loopback server, a click runs the page's script and calls back to the server.
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserAvailable, chromiumPath, launchBrowser } from '../support/browser.js';

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>sanity</title></head>
<body>
  <p id="status">waiting</p>
  <button id="go" type="button">Go</button>
  <script>
    document.getElementById('go').addEventListener('click', async () => {
      const res = await fetch('/ping', { method: 'POST' });
      document.getElementById('status').textContent = 'clicked: ' + (await res.text());
    });
  </script>
</body></html>`;

const available = browserAvailable();
const missing = `Chromium not found at ${chromiumPath()} (install Debian's chromium or set CHROMIUM_PATH)`;

describe('browser sanity', () => {
  let server: http.Server;
  let baseUrl: string;
  let browser: Browser | undefined;
  let pings = 0;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.method === 'POST' && req.url === '/ping') {
        pings += 1;
        res.writeHead(200, { 'content-type': 'text/plain' }).end('pong');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    if (available) browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    server?.close();
  });

  it('clicks a button in headless Chromium and sees the page change', async (ctx) => {
    if (browser === undefined) {
      // In CI a missing browser is a broken install step, not a reason to skip.
      if (process.env.CI) throw new Error(`${missing}; .ci/run should have installed it`);
      ctx.skip(missing);
      return;
    }
    const page = await browser.newPage();
    try {
      await page.goto(`${baseUrl}/`);
      expect(await page.textContent('#status')).toBe('waiting');
      await page.click('#go');
      await page.locator('#status').filter({ hasNotText: 'waiting' }).waitFor();
      expect(await page.textContent('#status')).toBe('clicked: pong');
      expect(pings).toBe(1);
    } finally {
      await page.close();
    }
  });
});
