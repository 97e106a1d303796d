// The checks of `mcp-oauth doctor` (docs/operating.md#doctor): a deployment as real agents meet
// it. Each finding names what would fail, for which agents, and how to fix it. Without credentials
// the doctor can read metadata, send preflights, register throw-away agents (deleted again through
// RFC 7592 when the server offers it) and start authorizations up to the sign-in page; what needs
// a signed-in user (parallel refreshes, a 403 step-up) runs only with the operator's test user
// (src/cli/doctor_test_user.ts) and is reported as skipped without one.
import { randomBytes } from 'node:crypto';
import { isLoopbackHost } from '../lib/loopback.js';
import { foldResource } from '../lib/resource_uri.js';
import type { TestUser } from './doctor_browser.js';
import { isFailure, type Probe, type ProbeResponse } from './doctor_probe.js';

export type Status = 'pass' | 'warn' | 'fail' | 'skip';

export interface Finding {
  id: string;
  status: Status;
  summary: string;
  /** Which agents it affects (fail and warn). */
  agents?: string;
  fix?: string;
}

export interface DoctorInput {
  issuer: string;
  /** Public URLs of MCP servers behind proxies (each route). */
  resources: string[];
  /** A Client ID Metadata Document URL to try, when the operator has one. */
  clientMetadataUrl?: string | undefined;
  /** The Origin a browser-based agent would send. */
  origin: string;
  /** A dedicated test account (--test-user-file): enables the replays that need a signed-in user. */
  testUser?: TestUser | undefined;
  now?: () => number;
}

const AGENTS = {
  all: 'every MCP client (the MCP SDKs and every agent built on them)',
  dcr: 'agents that register dynamically (most agents today, e.g. Claude Code, Cursor, VS Code, MCP Inspector)',
  browser: 'browser-based agents (e.g. MCP Inspector)',
  anyPort: 'agents that come back on a random loopback port (e.g. Claude Code, Copilot CLI)',
  scheme: 'desktop agents with their own URL scheme (e.g. Cursor, VS Code)',
  slash: 'agents that send the resource with a trailing slash',
  allScopes: 'agents that ask for every scope in scopes_supported',
  unknown: 'agents that send members the server does not use (e.g. resource in the registration body)',
  emptyScope: 'agents that register with an empty scope (e.g. MCP Inspector)',
  latest: 'clients of MCP 2026-07-28',
  document: 'agents identified by a Client ID Metadata Document',
  racing: 'agents whose processes share one refresh token and refresh at once (e.g. Claude Code, FastMCP users)',
  stepUp: 'agents that ask for more scopes when a call is refused (e.g. MCP SDK v2, MCP Inspector v2)',
};

const ISSUER_FIX = 'set MCP_OAUTH_ISSUER to the exact public URL and let the reverse proxy forward /.well-known/';

interface Context {
  input: DoctorInput;
  probe: Probe;
  findings: Finding[];
  cleanup: (() => Promise<unknown>)[];
}

const add = (c: Context, f: Finding) => c.findings.push(f);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const list = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
const describeFailure = (r: ProbeResponse | { error: string }) =>
  isFailure(r) ? `unreachable (${r.error})` : `HTTP ${r.status}${str(r.json?.error) ? ` ${str(r.json?.error)}` : ''}`;

/** http only on loopback: agents refuse anything else, and tokens would cross the network in clear. */
const acceptableUrl = (raw: string | undefined): boolean => {
  const url = raw === undefined ? undefined : URL.parse(raw);
  return !!url && (url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname)));
};

/** RFC 8414 §3.1 and OpenID Discovery: where clients look for an issuer with or without a path. */
function metadataUrls(issuer: URL): { oauth: string; openid: string[] } {
  const path = issuer.pathname === '/' ? '' : issuer.pathname;
  return {
    oauth: `${issuer.origin}/.well-known/oauth-authorization-server${path}`,
    openid: path
      ? [
          `${issuer.origin}/.well-known/openid-configuration${path}`,
          `${issuer.origin}${path}/.well-known/openid-configuration`,
        ]
      : [`${issuer.origin}/.well-known/openid-configuration`],
  };
}

async function checkMetadata(c: Context, issuer: URL): Promise<Record<string, unknown> | undefined> {
  const urls = metadataUrls(issuer);
  const res = await c.probe.request(urls.oauth, { headers: { origin: c.input.origin } });
  if (isFailure(res) || res.status !== 200 || !res.json) {
    add(c, {
      id: 'metadata.oauth',
      status: 'fail',
      summary: `${urls.oauth}: ${describeFailure(res)}`,
      agents: AGENTS.all,
      fix: ISSUER_FIX,
    });
    return undefined;
  }
  const meta = res.json;
  if (meta.issuer !== c.input.issuer) {
    add(c, {
      id: 'metadata.oauth',
      status: 'fail',
      summary: `the metadata names issuer ${JSON.stringify(meta.issuer)}, not ${c.input.issuer}`,
      agents: AGENTS.all,
      fix: ISSUER_FIX,
    });
  } else add(c, { id: 'metadata.oauth', status: 'pass', summary: `${urls.oauth} names this issuer` });

  let openid: string | undefined;
  for (const url of urls.openid) {
    const r = await c.probe.request(url);
    if (!isFailure(r) && r.status === 200 && r.json?.issuer === c.input.issuer) openid = url;
    if (openid) break;
  }
  add(
    c,
    openid
      ? { id: 'metadata.openid', status: 'pass', summary: `${openid} names this issuer` }
      : {
          id: 'metadata.openid',
          status: 'warn',
          summary: 'no OpenID Discovery document names this issuer',
          agents: 'agents that try OpenID Discovery only',
          fix: ISSUER_FIX,
        },
  );

  add(
    c,
    list(meta.code_challenge_methods_supported).includes('S256')
      ? { id: 'metadata.pkce', status: 'pass', summary: 'S256 PKCE is advertised' }
      : {
          id: 'metadata.pkce',
          status: 'fail',
          summary: 'code_challenge_methods_supported lacks S256',
          agents: AGENTS.all,
          fix: 'advertise S256 in code_challenge_methods_supported',
        },
  );
  const bad = ['authorization_endpoint', 'token_endpoint'].filter((k) => !acceptableUrl(str(meta[k])));
  add(
    c,
    bad.length === 0
      ? {
          id: 'metadata.endpoints',
          status: 'pass',
          summary: 'authorization and token endpoints are https (or loopback)',
        }
      : {
          id: 'metadata.endpoints',
          status: 'fail',
          summary: `missing or not https: ${bad.join(', ')}`,
          agents: AGENTS.all,
          fix: ISSUER_FIX,
        },
  );
  if (str(meta.registration_endpoint)) {
    add(c, { id: 'metadata.registration', status: 'pass', summary: 'dynamic registration is offered' });
  } else {
    add(c, {
      id: 'metadata.registration',
      status: 'fail',
      summary: `no registration_endpoint${meta.client_id_metadata_document_supported === true ? ' (metadata documents are accepted)' : ''}`,
      agents: AGENTS.dcr,
      fix: 'set MCP_OAUTH_REGISTRATION=open (or token, handing agents an initial access token), or pre-register each agent with mcp-oauth clients add',
    });
  }
  add(
    c,
    meta.authorization_response_iss_parameter_supported === true
      ? { id: 'metadata.iss', status: 'pass', summary: 'iss is returned in authorization responses (RFC 9207)' }
      : {
          id: 'metadata.iss',
          status: 'warn',
          summary: 'authorization_response_iss_parameter_supported is not true',
          agents: AGENTS.latest,
          fix: 'enable RFC 9207 iss in authorization responses',
        },
  );
  const allowed = res.headers.get('access-control-allow-origin');
  add(
    c,
    allowed === '*' || allowed === c.input.origin
      ? { id: 'cors.metadata', status: 'pass', summary: 'metadata can be read from a browser' }
      : {
          id: 'cors.metadata',
          status: 'fail',
          summary: 'metadata has no CORS header for a browser origin',
          agents: AGENTS.browser,
          fix: 'answer Access-Control-Allow-Origin on /.well-known/ (and do not strip it in the reverse proxy)',
        },
  );
  checkClock(c, res);
  return meta;
}

function checkClock(c: Context, res: ProbeResponse): void {
  const date = Date.parse(res.headers.get('date') ?? '');
  if (Number.isNaN(date)) {
    add(c, { id: 'clock', status: 'skip', summary: 'the server sent no Date header' });
    return;
  }
  // The Date header has whole seconds; a few seconds of difference is the request itself.
  const skew = Math.round(((c.input.now ?? Date.now)() - date) / 1000);
  const status: Status = Math.abs(skew) > 300 ? 'fail' : Math.abs(skew) > 60 ? 'warn' : 'pass';
  add(c, {
    id: 'clock',
    status,
    summary: `server clock differs from this machine's by ${skew} s`,
    ...(status === 'pass'
      ? {}
      : {
          agents: 'resource servers and agents checking token times (exp, iat)',
          fix: 'run NTP on the server (and on this machine)',
        }),
  });
}

async function checkTls(c: Context, issuer: URL): Promise<void> {
  if (issuer.protocol === 'http:') {
    add(
      c,
      isLoopbackHost(issuer.hostname)
        ? {
            id: 'tls',
            status: 'warn',
            summary: 'plain http on a loopback address: fine for development only',
            agents: 'agents on other machines',
            fix: 'serve https behind a TLS-terminating proxy (MCP_OAUTH_TRUST_PROXY=true)',
          }
        : {
            id: 'tls',
            status: 'fail',
            summary: 'the issuer is plain http',
            agents: AGENTS.all,
            fix: 'serve https behind a TLS-terminating proxy (MCP_OAUTH_TRUST_PROXY=true)',
          },
    );
    return;
  }
  const cert = await c.probe.certificate(issuer);
  if ('error' in cert) {
    add(c, {
      id: 'tls',
      status: 'fail',
      summary: `TLS: ${cert.error}`,
      agents: AGENTS.all,
      fix: 'install a certificate for the host from a public CA',
    });
  } else if (cert.daysLeft < 14) {
    add(c, {
      id: 'tls',
      status: cert.daysLeft < 0 ? 'fail' : 'warn',
      summary: `certificate expires in ${cert.daysLeft} days`,
      agents: AGENTS.all,
      fix: 'renew the certificate',
    });
  } else add(c, { id: 'tls', status: 'pass', summary: `certificate valid for ${cert.daysLeft} more days` });
}

async function preflight(c: Context, id: string, url: string | undefined, what: string, fix: string): Promise<void> {
  if (!url) return;
  const res = await c.probe.request(url, {
    method: 'OPTIONS',
    headers: {
      origin: c.input.origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type',
    },
  });
  const allowed = isFailure(res) ? null : res.headers.get('access-control-allow-origin');
  const ok = !isFailure(res) && res.status < 300 && (allowed === '*' || allowed === c.input.origin);
  add(
    c,
    ok
      ? { id, status: 'pass', summary: `${what} answers a browser preflight` }
      : {
          id,
          status: 'fail',
          summary: `${what} preflight: ${isFailure(res) ? describeFailure(res) : `HTTP ${res.status}, Access-Control-Allow-Origin ${allowed ?? 'missing'}`}`,
          agents: AGENTS.browser,
          fix,
        },
  );
}

export { AGENTS, acceptableUrl, add, type Context as DoctorContext, checkTls, describeFailure, list, preflight, str };

/** Runs every check; never throws for what the deployment answers. */
export async function runDoctor(
  input: DoctorInput,
  probe: Probe,
  more: (c: Context, meta: Record<string, unknown>) => Promise<void>,
): Promise<Finding[]> {
  const c: Context = { input, probe, findings: [], cleanup: [] };
  const issuer = URL.parse(input.issuer);
  if (!issuer || (issuer.protocol !== 'https:' && issuer.protocol !== 'http:') || issuer.search || issuer.hash) {
    return [
      {
        id: 'issuer',
        status: 'fail',
        summary: `${input.issuer} is not an http(s) URL without query or fragment`,
        fix: 'pass the issuer exactly as agents see it',
      },
    ];
  }
  await checkTls(c, issuer);
  const meta = await checkMetadata(c, issuer);
  if (meta) {
    await preflight(
      c,
      'cors.registration',
      str(meta.registration_endpoint),
      'registration',
      'answer CORS preflight on the registration endpoint',
    );
    await preflight(
      c,
      'cors.token',
      str(meta.token_endpoint),
      'the token endpoint',
      'answer CORS preflight on the token endpoint',
    );
    try {
      await more(c, meta);
    } finally {
      for (const undo of c.cleanup) await undo().catch(() => undefined);
    }
  }
  REPLAY.skipAll(c, input.testUser ? 'not run: the metadata could not be read' : 'skipped: needs --test-user-file');
  return c.findings;
}

/** The replays that need a signed-in test user: one parallel-refresh finding, one step-up per resource. */
export const REPLAY = {
  refresh: 'refresh.parallel',
  stepUp: 'step_up',
  /** Reports as skipped, with `why`, each of these replays that has no finding yet. */
  skipAll(c: Context, why: string): void {
    const ids = [
      REPLAY.refresh,
      ...(c.input.resources.length ? c.input.resources : ['']).map((r) => `step_up ${r}`.trim()),
    ];
    for (const id of ids) {
      if (c.findings.some((f) => f.id === id)) continue;
      const needsResource = c.input.resources.length === 0 && c.input.testUser;
      add(c, { id, status: 'skip', summary: needsResource ? 'skipped: needs --resource' : why });
    }
  },
};

/** A random PKCE challenge: the doctor never redeems a code, so the verifier is thrown away. */
export const challenge = () => randomBytes(32).toString('base64url');
export const sameResource = (a: string, b: string) => foldResource(a) === foldResource(b);
