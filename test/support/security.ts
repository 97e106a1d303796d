// Shared helpers for the security suite: raw authorization requests, reading an error out of a
// page, JSON body or redirect, and counting what the server stored.
import { expect } from 'vitest';
import type { TestServer } from '../support/app.js';
import { CookieBrowser, csrfOf, pkcePair, type RegisteredClient } from '../support/oauth.js';

export const RESOURCE = 'https://mcp.example.com/mcp';
export const OTHER_RESOURCE = 'https://other.example.com/mcp';
export const USER = { username: 'alice', password: 'correct horse battery' } as const;

export type Params = Record<string, string | string[] | undefined>;

/** A valid authorization request for `client`; `overrides` replace (undefined: drop, array: repeat) members. */
export function authorizeParams(client: RegisteredClient, overrides: Params = {}): URLSearchParams {
  const base: Params = {
    response_type: 'code',
    client_id: client.client_id,
    redirect_uri: client.redirect_uris[0],
    code_challenge: pkcePair().challenge,
    code_challenge_method: 'S256',
    state: 'st-123',
    resource: RESOURCE,
    scope: 'mcp:read',
  };
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries({ ...base, ...overrides })) {
    for (const item of value === undefined ? [] : [value].flat()) params.append(key, item);
  }
  return params;
}

/** GET /authorize as a browser would, without following redirects. */
export function getAuthorize(server: TestServer, params: URLSearchParams | string): Promise<Response> {
  return fetch(`${server.url}/authorize?${params}`, { redirect: 'manual', headers: { accept: 'text/html' } });
}

/** The error code on one of our HTML error pages (views/error.njk). */
export function pageErrorCode(html: string): string | undefined {
  return /Error code: <code>([^<]*)<\/code>/.exec(html)?.[1];
}

/** The message on one of our HTML error pages, unescaped. */
export function pageMessage(html: string): string | undefined {
  const raw = /role="alert">([^<]*)</.exec(html)?.[1];
  return raw
    ?.replace(/&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&');
}

/** Parameters of a redirect back to the client, from the query or (for response_mode fragment) the fragment. */
export function redirectParams(location: URL): URLSearchParams {
  const params = new URLSearchParams(location.search);
  for (const [k, v] of new URLSearchParams(location.hash.slice(1))) params.append(k, v);
  return params;
}

/** Asserts an error page was rendered and nothing was sent to the client's redirect URI. */
export async function expectErrorPage(res: Response, status: number, error: string, message?: string): Promise<void> {
  // No Location at all: in particular none pointing at the client's redirect URI.
  expect(res.headers.get('location')).toBeNull();
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^text\/html/);
  const html = await res.text();
  expect(pageErrorCode(html)).toBe(error);
  if (message !== undefined) expect(pageMessage(html)).toBe(message);
}

/** Asserts a 303 to exactly `redirectUri` carrying `error`, `state` and `iss`; returns the parameters. */
export function expectErrorRedirect(
  res: Response,
  server: TestServer,
  redirectUri: string,
  error: string,
  state: string | null = 'st-123',
): URLSearchParams {
  expect(res.status).toBe(303);
  const location = new URL(res.headers.get('location') ?? 'about:blank');
  expect(`${location.origin}${location.pathname}`).toBe(redirectUri);
  const params = redirectParams(location);
  expect(params.get('error')).toBe(error);
  expect(params.get('iss')).toBe(server.url);
  expect(params.get('state')).toBe(state);
  expect(params.get('code')).toBeNull();
  return params;
}

export async function countRows(server: TestServer, model: string): Promise<number> {
  return ((await server.sql.get('SELECT count(*) AS n FROM oidc_models WHERE model = ?', [model])) as { n: number }).n;
}

export async function isConsumed(server: TestServer, model: string, id: string): Promise<boolean> {
  const row = (await server.sql.get('SELECT consumed_at FROM oidc_models WHERE model = ? AND id = ?', [model, id])) as
    | { consumed_at: number | null }
    | undefined;
  if (!row) throw new Error(`no ${model} row ${id}`);
  return row.consumed_at !== null;
}

export async function rowExists(server: TestServer, model: string, id: string): Promise<boolean> {
  return (
    (await server.sql.get('SELECT 1 AS found FROM oidc_models WHERE model = ? AND id = ?', [model, id])) !== undefined
  );
}

export async function jsonError(
  res: Response,
): Promise<{ status: number; error: unknown; body: Record<string, unknown> }> {
  const body = (await res.json()) as Record<string, unknown>;
  return { status: res.status, error: body.error, body };
}

export interface Step {
  browser: CookieBrowser;
  url: string;
  status: number;
  html: string;
}

/** Starts an authorization request in a fresh (or given) browser and stops on the first interaction page. */
export async function openInteraction(
  server: TestServer,
  params: URLSearchParams,
  browser = new CookieBrowser(),
): Promise<Step> {
  const first = await browser.get(`${server.url}/authorize?${params}`);
  const { res, url } = await browser.follow(first, `${server.url}/authorize`, server.url);
  if (!url.startsWith(`${server.url}/interaction/`))
    throw new Error(`expected an interaction page, got ${res.status} ${url}`);
  return { browser, url, status: res.status, html: await res.text() };
}

/** Signs in on a login page and returns the next interaction page (consent). */
export async function signIn(
  server: TestServer,
  step: Step,
  username: string = USER.username,
  password: string = USER.password,
): Promise<Step> {
  const res = await step.browser.post(`${step.url}/login`, { csrf: csrfOf(step.html), username, password });
  if (res.status !== 303) throw new Error(`login failed with ${res.status}`);
  const next = await step.browser.follow(res, `${step.url}/login`, server.url);
  return { browser: step.browser, url: next.url, status: next.res.status, html: await next.res.text() };
}

/** Scope values offered as checkboxes on a consent page. */
export function offeredScopes(html: string): string[] {
  return [...html.matchAll(/name="scope" value="([^"]+)"/g)].map((m) => m[1] ?? '');
}
