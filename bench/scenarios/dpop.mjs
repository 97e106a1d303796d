// Scenario 4b: what DPoP costs at the resource proxy. The same proxy, the same upstream, the same
// tools/call, in the same run: once with a DPoP-bound token and a fresh proof per request (the
// subject), once with a bearer token (the baseline). Proofs are signed by the load generator before
// the clock starts, so the numbers are the proxy's: the proof's signature check, its claims, the
// thumbprint and the replay cache.
import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { runLoad } from '../lib/load.mjs';
import { alternate, median, ratios } from '../lib/measure.mjs';
import { authorize, REDIRECT_URI } from '../lib/oauth.mjs';

/** A DPoP-bound token from the code flow: the agent's key signs a proof for the token request. */
async function boundToken(t, resource) {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const got = await authorize(t.as.url, { jar: t.jar, clientId: t.as.clientId, resource });
  const proof = await new SignJWT({
    htm: 'POST',
    htu: `${t.as.url}/token`,
    iat: Math.floor(Date.now() / 1000),
    jti: randomUUID(),
  })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: publicJwk })
    .sign(privateKey);
  const res = await fetch(`${t.as.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: proof },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: got.code,
      redirect_uri: REDIRECT_URI,
      code_verifier: got.verifier,
      client_id: t.as.clientId,
    }),
  });
  const body = await res.json();
  if (res.status !== 200 || body.token_type !== 'DPoP') {
    throw new Error(`DPoP token request failed: ${res.status} ${JSON.stringify(body)}`);
  }
  const claims = JSON.parse(Buffer.from(body.access_token.split('.')[1], 'base64url').toString('utf8'));
  if (claims.cnf?.jkt !== (await calculateJwkThumbprint(publicJwk)))
    throw new Error('the token is not bound to the key');
  return { token: body.access_token, privateJwk: await exportJWK(privateKey), publicJwk };
}

export async function dpopScenario(settings, t, log, { resource, call }) {
  log('scenario 4b: DPoP at the resource proxy vs bearer, same proxy');
  const bound = await boundToken(t, resource);
  const dpop = {
    privateJwk: bound.privateJwk,
    publicJwk: bound.publicJwk,
    htu: resource,
    token: bound.token,
  };
  const subjectHeaders = { authorization: `DPoP ${bound.token}` };
  const job = (headers, withDpop) => async (duration) => ({
    kind: 'mcp',
    url: t.on.url,
    pid: t.onPid,
    connections: settings.connections,
    // A proof is good once: a DPoP run is a number of requests (one proof each, made up front)
    // sized so it lasts about as long as the bearer run at this machine's plausible top speed.
    ...(withDpop ? { amount: Math.max(1000, duration * 6000) } : { duration }),
    data: { path: '/mcp', headers, body: call, ...(withDpop ? { dpop } : {}) },
  });
  const m = await alternate(
    settings,
    [
      { key: 'subject', label: 'proxy, DPoP-bound token + proof', job: job(subjectHeaders, true) },
      { key: 'baseline', label: 'proxy, bearer token', job: job(t.auth, false) },
    ],
    log,
  );

  const probes = { dpop: [], bearer: [] };
  for (let r = 0; r < settings.rounds; r++) {
    const order = r % 2 ? ['bearer', 'dpop'] : ['dpop', 'bearer'];
    for (const key of order) {
      const res = await runLoad({
        kind: 'probe',
        url: t.on.url,
        count: settings.probeCount,
        data: {
          path: '/mcp',
          headers: key === 'dpop' ? subjectHeaders : t.auth,
          body: call,
          ...(key === 'dpop' ? { dpop } : {}),
        },
      });
      if (res.failed) log(`  probe ${key}: ${res.failed} failed (${res.samples.join(' | ')})`);
      probes[key].push(res);
    }
  }
  const round3 = (x) => (x === null ? null : Math.round(x * 1000) / 1000);
  const p = (key, q) => round3(median(probes[key].map((x) => x.latency[q])));
  const probe = {
    dpop: { p50: p('dpop', 'p50'), p99: p('dpop', 'p99') },
    bearer: { p50: p('bearer', 'p50'), p99: p('bearer', 'p99') },
  };
  log(
    `  one at a time: DPoP p50 ${probe.dpop.p50} / p99 ${probe.dpop.p99} ms, bearer p50 ${probe.bearer.p50} / p99 ${probe.bearer.p99} ms`,
  );
  const failedProbes = [...probes.dpop, ...probes.bearer].reduce((n, x) => n + x.failed, 0);
  return {
    id: 'dpop',
    title: 'Resource proxy: tools/call with DPoP vs bearer',
    unit: 'calls/s',
    subject: { ...m.subject, failed: m.subject.failed + failedProbes },
    baseline: m.baseline,
    ...ratios(m.subject, m.baseline),
    probe,
    p50OverheadMs:
      probe.dpop.p50 !== null && probe.bearer.p50 !== null ? round3(probe.dpop.p50 - probe.bearer.p50) : null,
    p99OverheadMs:
      probe.dpop.p99 !== null && probe.bearer.p99 !== null ? round3(probe.dpop.p99 - probe.bearer.p99) : null,
  };
}
