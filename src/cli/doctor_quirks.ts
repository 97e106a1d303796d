// The doctor's replay of real agents' habits (docs/pitfalls.md "Real agents"): each protected
// resource's discovery, then registrations and authorizations shaped like theirs. An authorization
// counts as working when the server answers it with its own sign-in step (a redirect on its own
// origin or a page) rather than an error.
import {
  AGENTS,
  acceptableUrl,
  add,
  challenge,
  type DoctorContext,
  describeFailure,
  list,
  sameResource,
  str,
} from './doctor_checks.js';
import { isFailure } from './doctor_probe.js';
import { testUserReplays } from './doctor_test_user.js';

const CHECK_NAME = 'mcp-oauth doctor check (safe to delete)';
const LOOPBACK_REDIRECT = 'http://127.0.0.1:33418/callback';
const OTHER_PORT_REDIRECT = 'http://127.0.0.1:50999/callback';
const SCHEME_REDIRECT = 'cursor://anysphere.cursor-retrieval/oauth/callback';

interface Registered {
  clientId: string;
}

async function registerClient(
  c: DoctorContext,
  endpoint: string,
  body: Record<string, unknown>,
): Promise<Registered | string> {
  const res = await c.probe.request(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ client_name: CHECK_NAME, token_endpoint_auth_method: 'none', ...body }),
  });
  if (isFailure(res) || res.status !== 201 || !str(res.json?.client_id)) {
    const description = isFailure(res) ? '' : str(res.json?.error_description);
    return `${describeFailure(res)}${description ? `: ${description}` : ''}`;
  }
  const json = res.json as Record<string, unknown>;
  const uri = str(json.registration_client_uri);
  const token = str(json.registration_access_token);
  // RFC 7592 §2.3: the throw-away agent deletes itself again.
  if (uri && token) {
    c.cleanup.push(() => c.probe.request(uri, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } }));
  }
  return { clientId: json.client_id as string };
}

/** Starts an authorization; true when it reaches the server's sign-in step, else what went wrong. */
async function reachesSignIn(
  c: DoctorContext,
  endpoint: string,
  params: Record<string, string>,
): Promise<true | string> {
  const url = new URL(endpoint);
  const query = {
    response_type: 'code',
    code_challenge: challenge(),
    code_challenge_method: 'S256',
    state: challenge(),
    ...params,
  };
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const res = await c.probe.request(url.href, { headers: { accept: 'text/html' } });
  if (isFailure(res)) return describeFailure(res);
  if (res.status >= 300 && res.status < 400) {
    const location = URL.parse(res.headers.get('location') ?? '', url.href);
    if (!location) return `HTTP ${res.status} without a usable Location`;
    const error = location.searchParams.get('error');
    if (error)
      return `redirected with error=${error}${location.searchParams.get('error_description') ? `: ${location.searchParams.get('error_description')}` : ''}`;
    if (location.origin === new URL(c.input.issuer).origin) return true;
    return `redirected away to ${location.origin}`;
  }
  if (res.status === 200) return true;
  return `HTTP ${res.status}`;
}

async function checkResource(c: DoctorContext, resource: string, meta: Record<string, unknown>): Promise<string[]> {
  const id = (what: string) => `resource.${what} ${resource}`;
  const challengeRes = await c.probe.request(resource, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} }),
  });
  const header = isFailure(challengeRes) ? '' : (challengeRes.headers.get('www-authenticate') ?? '');
  const pointer = /resource_metadata="([^"]+)"/.exec(header)?.[1];
  if (isFailure(challengeRes) || challengeRes.status !== 401 || !pointer) {
    add(c, {
      id: id('challenge'),
      status: 'fail',
      summary: `an unauthenticated request got ${describeFailure(challengeRes)}${pointer ? '' : ' without resource_metadata in WWW-Authenticate'}`,
      agents: AGENTS.all,
      fix: 'put the route behind mcp-oauth proxy (it answers 401 with resource_metadata, RFC 9728 §5.1)',
    });
  } else add(c, { id: id('challenge'), status: 'pass', summary: '401 names its protected-resource metadata' });

  const target = URL.parse(resource);
  const wellKnown = target
    ? `${target.origin}/.well-known/oauth-protected-resource${target.pathname === '/' ? '' : target.pathname}`
    : resource;
  const prmUrl = pointer ?? wellKnown;
  const prm = await c.probe.request(prmUrl, { headers: { origin: c.input.origin } });
  if (isFailure(prm) || prm.status !== 200 || !prm.json) {
    add(c, {
      id: id('metadata'),
      status: 'fail',
      summary: `${prmUrl}: ${describeFailure(prm)}`,
      agents: AGENTS.all,
      fix: 'serve RFC 9728 metadata for the route (mcp-oauth proxy does)',
    });
    return [];
  }
  const doc = prm.json;
  const problems: string[] = [];
  let status: 'pass' | 'warn' | 'fail' = 'pass';
  if (doc.resource !== resource) {
    status = typeof doc.resource === 'string' && sameResource(doc.resource, resource) ? 'warn' : 'fail';
    problems.push(`names resource ${JSON.stringify(doc.resource)}`);
  }
  const servers = list(doc.authorization_servers);
  if (!servers.includes(c.input.issuer)) {
    status = 'fail';
    problems.push(`authorization_servers is ${JSON.stringify(servers)}, not this issuer`);
  }
  const scopes = list(doc.scopes_supported);
  if (scopes.includes('offline_access')) {
    if (status === 'pass') status = 'warn';
    problems.push('scopes_supported lists offline_access (an authorization server scope)');
  }
  const known = new Set(list(meta.scopes_supported));
  const unknown = scopes.filter((s) => s !== 'offline_access' && known.size > 0 && !known.has(s));
  if (unknown.length > 0) {
    if (status === 'pass') status = 'warn';
    problems.push(`scopes unknown to the authorization server: ${unknown.join(' ')}`);
  }
  add(
    c,
    status === 'pass'
      ? { id: id('metadata'), status, summary: 'protected-resource metadata names this resource and this issuer' }
      : {
          id: id('metadata'),
          status,
          summary: problems.join('; '),
          agents: AGENTS.all,
          fix: "set the route's public resource URL and MCP_PROXY issuer to exactly what agents use (MCP_OAUTH_ISSUER of this server)",
        },
  );
  const allowed = prm.headers.get('access-control-allow-origin');
  add(
    c,
    allowed === '*' || allowed === c.input.origin
      ? { id: id('cors'), status: 'pass', summary: 'metadata can be read from a browser' }
      : {
          id: id('cors'),
          status: 'fail',
          summary: 'protected-resource metadata has no CORS header',
          agents: AGENTS.browser,
          fix: "answer Access-Control-Allow-Origin on the proxy's /.well-known/oauth-protected-resource",
        },
  );
  return scopes;
}

async function checkRegistrations(c: DoctorContext, endpoint: string): Promise<Registered | undefined> {
  const base = { grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] };
  const loopback = await registerClient(c, endpoint, { ...base, redirect_uris: [LOOPBACK_REDIRECT] });
  const cases: [string, Record<string, unknown>, string, string][] = [
    [
      'quirk.custom_scheme',
      { ...base, redirect_uris: [SCHEME_REDIRECT] },
      AGENTS.scheme,
      'accept private-use URI schemes for native clients (RFC 8252 §7.1)',
    ],
    [
      'quirk.unknown_fields',
      {
        ...base,
        redirect_uris: [LOOPBACK_REDIRECT],
        resource: 'https://example.invalid/mcp',
        x_vendor_extension: { a: 1 },
      },
      AGENTS.unknown,
      'ignore registration members the server does not use (RFC 7591 §2)',
    ],
    [
      'quirk.empty_scope',
      { ...base, redirect_uris: [LOOPBACK_REDIRECT], scope: '' },
      AGENTS.emptyScope,
      'treat an empty scope as no scope',
    ],
  ];
  add(
    c,
    typeof loopback === 'string'
      ? {
          id: 'quirk.loopback_registration',
          status: 'fail',
          summary: `registering ${LOOPBACK_REDIRECT}: ${loopback}`,
          agents: AGENTS.dcr,
          fix: 'accept loopback redirect URIs',
        }
      : {
          id: 'quirk.loopback_registration',
          status: 'pass',
          summary: 'an agent with a loopback redirect can register',
        },
  );
  for (const [id, body, agents, fix] of cases) {
    const got = await registerClient(c, endpoint, body);
    add(
      c,
      typeof got === 'string'
        ? { id, status: 'fail', summary: got, agents, fix }
        : { id, status: 'pass', summary: 'registration accepted' },
    );
  }
  return typeof loopback === 'string' ? undefined : loopback;
}

export async function agentQuirks(c: DoctorContext, meta: Record<string, unknown>): Promise<void> {
  const resourceScopes = new Map<string, string[]>();
  for (const resource of c.input.resources) resourceScopes.set(resource, await checkResource(c, resource, meta));
  const authorize = str(meta.authorization_endpoint);
  const registration = str(meta.registration_endpoint);
  const client = registration ? await checkRegistrations(c, registration) : undefined;
  const [resource] = c.input.resources;
  if (authorize && client && resource) {
    const scope = (resourceScopes.get(resource) ?? []).join(' ');
    const common = { client_id: client.clientId, resource, ...(scope ? { scope } : {}) };
    const tries: [string, Record<string, string>, string, string][] = [
      [
        'quirk.loopback_any_port',
        { ...common, redirect_uri: OTHER_PORT_REDIRECT },
        AGENTS.anyPort,
        'match loopback redirect URIs on any port (RFC 8252 §7.3): register such agents as native',
      ],
      [
        'quirk.trailing_slash',
        { ...common, redirect_uri: LOOPBACK_REDIRECT, resource: `${resource}/` },
        AGENTS.slash,
        'compare resource indicators after canonicalising them (docs/pitfalls.md#resource-indicators-compared-as-strings)',
      ],
      [
        'quirk.all_scopes',
        { ...common, redirect_uri: LOOPBACK_REDIRECT, scope: list(meta.scopes_supported).join(' ') },
        AGENTS.allScopes,
        'drop or ignore scopes of other resources instead of refusing the request',
      ],
    ];
    for (const [id, params, agents, fix] of tries) {
      const got = await reachesSignIn(c, authorize, params);
      add(
        c,
        got === true
          ? { id, status: 'pass', summary: 'the authorization reaches sign-in' }
          : { id, status: 'fail', summary: got, agents, fix },
      );
    }
  } else {
    add(c, {
      id: 'quirk.authorization',
      status: 'skip',
      summary: !resource
        ? 'no --resource given: authorization quirks not tried'
        : 'no registered test agent: authorization quirks not tried',
    });
  }
  if (c.input.clientMetadataUrl) await checkMetadataDocument(c, meta, authorize, resource);
  await testUserReplays(c, meta, client && { clientId: client.clientId, redirectUri: LOOPBACK_REDIRECT });
}

async function checkMetadataDocument(
  c: DoctorContext,
  meta: Record<string, unknown>,
  authorize: string | undefined,
  resource: string | undefined,
): Promise<void> {
  const url = c.input.clientMetadataUrl as string;
  const id = 'quirk.metadata_document';
  if (meta.client_id_metadata_document_supported !== true) {
    add(c, {
      id,
      status: 'fail',
      summary: 'client_id_metadata_document_supported is not true',
      agents: AGENTS.document,
      fix: 'set MCP_OAUTH_CIMD=on',
    });
    return;
  }
  const doc = await c.probe.request(url);
  if (!acceptableUrl(url) || isFailure(doc) || doc.status !== 200 || !doc.json || doc.json.client_id !== url) {
    add(c, {
      id,
      status: 'fail',
      summary: `${url}: ${isFailure(doc) || doc.status !== 200 ? describeFailure(doc) : 'not an https document whose client_id is its URL'}`,
      agents: AGENTS.document,
      fix: 'publish the document over https with client_id equal to its URL',
    });
    return;
  }
  const redirect = list(doc.json.redirect_uris)[0];
  if (!authorize || !redirect || !resource) {
    add(c, { id, status: 'skip', summary: 'needs --resource and a redirect URI in the document' });
    return;
  }
  const got = await reachesSignIn(c, authorize, { client_id: url, redirect_uri: redirect, resource });
  const note =
    doc.json.token_endpoint_auth_method === undefined ? ' (the document has no token_endpoint_auth_method)' : '';
  add(
    c,
    got === true
      ? { id, status: 'pass', summary: `the document's agent reaches sign-in${note}` }
      : {
          id,
          status: 'fail',
          summary: `${got}${note}`,
          agents: AGENTS.document,
          fix: "default token_endpoint_auth_method to none for documents, and allow the document's domain (MCP_OAUTH_CIMD_ALLOW_DOMAINS)",
        },
  );
}
