// Agents without a browser and without a user, driven with oauth4webapi (a standard client library)
// against the real server: discovery, the device flow's browser side as a user would click it, and
// an MCP request through the proxy.
import * as oauth from 'oauth4webapi';
import { INIT, MCP_HEADERS } from '../proxy/helpers.js';
import { CookieBrowser, csrfOf } from '../support/oauth.js';

export const insecure = { [oauth.allowInsecureRequests]: true } as const;

export async function discover(issuer: string): Promise<oauth.AuthorizationServer> {
  const url = new URL(issuer);
  return oauth.processDiscoveryResponse(url, await oauth.discoveryRequest(url, { algorithm: 'oauth2', ...insecure }));
}

const xsrfOf = (html: string) => {
  const m = /name="xsrf" value="([^"]*)"/.exec(html);
  if (!m?.[1]) throw new Error('no xsrf field on the device page');
  return m[1];
};

export interface DeviceApproval {
  /** The user-code page as first shown (pre-filled from verification_uri_complete). */
  entryHtml: string;
  confirmHtml: string;
  consentHtml: string;
  /** The last page the browser saw (success, or the page after a denial). */
  finalHtml: string;
  browser: CookieBrowser;
}

/**
 * The user's side of RFC 8628: open the link, continue with the pre-filled code, confirm it,
 * sign in, and allow or deny on the consent page.
 */
export async function approveDevice(
  base: string,
  link: string,
  opts: { username: string; password: string; decision?: 'allow' | 'deny'; keep?: string[] },
): Promise<DeviceApproval> {
  const browser = new CookieBrowser();
  const entry = await browser.get(link);
  const entryHtml = await entry.text();
  if (entry.status !== 200) throw new Error(`device page ${entry.status}: ${entryHtml.slice(0, 200)}`);
  const userCode = /name="user_code"[^>]*value="([^"]+)"/.exec(entryHtml)?.[1] ?? '';
  const xsrf = xsrfOf(entryHtml);
  const confirm = await browser.post(`${base}/device`, { xsrf, user_code: userCode });
  const confirmHtml = await confirm.text();
  if (confirm.status !== 200) throw new Error(`confirm page ${confirm.status}: ${confirmHtml.slice(0, 300)}`);
  const started = await browser.post(`${base}/device`, {
    xsrf: xsrfOf(confirmHtml),
    user_code: userCode,
    confirm: 'yes',
  });
  let step = await browser.follow(started, `${base}/device`, base);
  let consentHtml = '';
  for (let i = 0; i < 4; i++) {
    const html = await step.res.text();
    if (!step.url.includes('/interaction/')) {
      return { entryHtml, confirmHtml, consentHtml, finalHtml: html, browser };
    }
    const csrf = csrfOf(html);
    if (html.includes('name="password"')) {
      const res = await browser.post(`${step.url}/login`, { csrf, username: opts.username, password: opts.password });
      step = await browser.follow(res, `${step.url}/login`, base);
    } else {
      consentHtml = html;
      const offered = [...html.matchAll(/name="scope" value="([^"]+)"/g)].map((m) => m[1] ?? '');
      const res = await browser.post(`${step.url}/consent`, {
        csrf,
        decision: opts.decision ?? 'allow',
        scope: opts.keep ?? offered,
      });
      step = await browser.follow(res, `${step.url}/consent`, base);
    }
  }
  throw new Error(`the device flow did not finish at ${step.url}`);
}

/** An MCP initialize through the proxy with the token; the upstream's view of it is in chain.upstream.seen. */
export function mcpCall(resource: string, token: string): Promise<Response> {
  return fetch(resource, {
    method: 'POST',
    headers: { ...MCP_HEADERS, authorization: `Bearer ${token}` },
    body: JSON.stringify(INIT),
  });
}
