// The load generator, in its own process (forked by bench/lib/load.mjs): autocannon with the
// request sequence of one scenario. It counts an operation as done only when the answer is the
// right one (a new refresh token, a code, a 303 after sign-in, a JSON-RPC result), so a broken
// server shows up as failures, never as speed.
import { createHash, randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import autocannon from 'autocannon';
import { importJWK, SignJWT } from 'jose';
import { pkcePair } from './oauth.mjs';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/** Request sequences per kind; `tally` counts finished operations and failures. */
const kinds = {
  // Scenario 1: one refresh-token grant per request. Tokens rotate, so each answer's new refresh
  // token goes back into the pool the next request takes from (autocannon resets per-connection
  // context between iterations, so the pool is shared).
  refresh(data, tally) {
    const pool = [...data.tokens];
    return [
      {
        method: 'POST',
        path: '/token',
        headers: FORM,
        setupRequest(req, context) {
          context.token = pool.pop();
          if (!context.token) {
            // Every token was lost to timeouts: keep the connection busy with a request that is
            // not counted either way, rather than reuse a token (reuse revokes the grant).
            tally.starved++;
            return { ...req, method: 'GET', path: '/jwks', body: Buffer.alloc(0) };
          }
          const body = new URLSearchParams({
            grant_type: 'refresh_token',
            refresh_token: context.token,
            client_id: data.clientId,
          });
          return { ...req, method: 'POST', path: '/token', body: body.toString() };
        },
        onResponse(status, body, context) {
          if (!context.token) return;
          const rt = status === 200 ? JSON.parse(body).refresh_token : undefined;
          if (rt) {
            pool.push(rt);
            tally.ok++;
          } else tally.fail(status, body);
        },
      },
    ];
  },

  // Scenario 2: /authorize with a signed-in, consented session → code → /token.
  code(data, tally) {
    // One browser session per connection at a time (taken at /authorize, put back on its answer).
    const sessions = [...data.cookies];
    return [
      {
        method: 'GET',
        setupRequest(req, context) {
          const { verifier, challenge } = pkcePair();
          context.verifier = verifier;
          const query = new URLSearchParams({
            response_type: 'code',
            client_id: data.clientId,
            redirect_uri: data.redirectUri,
            code_challenge: challenge,
            code_challenge_method: 'S256',
            scope: data.scope,
            resource: data.resource,
            state: 'bench',
          });
          context.cookie = sessions.pop();
          if (!context.cookie) tally.starved++;
          const cookie = context.cookie ?? data.cookies[0];
          return { ...req, path: `/authorize?${query}`, headers: { cookie } };
        },
        onResponse(status, body, context, headers) {
          if (context.cookie) sessions.push(context.cookie);
          const location = headers.location ?? headers.Location;
          const code =
            location && status >= 300 && status < 400
              ? new URL(location, 'http://127.0.0.1').searchParams.get('code')
              : null;
          context.code = code;
          if (!code) tally.fail(status, `${location ?? ''} ${body}`);
        },
      },
      {
        method: 'POST',
        path: '/token',
        headers: FORM,
        setupRequest(req, context) {
          const body = new URLSearchParams({
            grant_type: 'authorization_code',
            code: context.code ?? 'none',
            redirect_uri: data.redirectUri,
            code_verifier: context.verifier ?? 'none',
            client_id: data.clientId,
          });
          return { ...req, body: body.toString() };
        },
        onResponse(status, body, context) {
          if (!context.code) return; // already counted at /authorize
          if (status === 200 && JSON.parse(body).access_token) tally.ok++;
          else tally.fail(status, body);
        },
      },
    ];
  },

  // Scenario 3 (and its baseline): one sign-in form post per request.
  login(data, tally) {
    return [
      {
        method: 'POST',
        path: data.path,
        headers: { ...FORM, ...(data.cookie ? { cookie: data.cookie } : {}) },
        body: data.body,
        onResponse(status, body) {
          if (status === 303) tally.ok++;
          else tally.fail(status, body);
        },
      },
    ];
  },

  // Scenario 4: one MCP tools/call per request (4b: each with its own DPoP proof, made up front).
  mcp(data, tally) {
    const proofs = data.proofs;
    return [
      {
        method: 'POST',
        path: data.path,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...(data.headers ?? {}),
        },
        body: data.body,
        ...(proofs
          ? {
              setupRequest(req) {
                const dpop = proofs.pop();
                if (!dpop) tally.starved++;
                return dpop ? { ...req, headers: { ...req.headers, dpop } } : req;
              },
            }
          : {}),
        onResponse(status, body) {
          if (status === 200 && body.includes('"result"')) tally.ok++;
          else tally.fail(status, body);
          tally.lastAt = performance.now();
        },
      },
    ];
  },

  // Scenario 7: dynamic client registrations.
  register(data, tally) {
    return [
      {
        method: 'POST',
        path: '/register',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(data.body),
        onResponse(status, body) {
          if (status === 201) tally.ok++;
          else tally.fail(status, body);
          tally.lastAt = performance.now();
        },
      },
    ];
  },
};

/** `count` DPoP proofs (RFC 9449) for POSTs to `spec.htu` with `spec.token`, each with its own jti. */
async function dpopProofs(spec, count) {
  const key = await importJWK(spec.privateJwk, 'ES256');
  const ath = createHash('sha256').update(spec.token).digest('base64url');
  const iat = Math.floor(Date.now() / 1000);
  const out = [];
  for (let i = 0; i < count; i++) {
    out.push(
      await new SignJWT({ htm: 'POST', htu: spec.htu, ath, iat, jti: randomUUID() })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: spec.publicJwk })
        .sign(key),
    );
  }
  return out;
}

function makeTally() {
  const samples = [];
  const tally = {
    ok: 0,
    failed: 0,
    starved: 0,
    fail(status, body) {
      tally.failed++;
      if (samples.length < 3) samples.push(`${status} ${String(body).slice(0, 200)}`);
    },
    samples,
  };
  return tally;
}

/**
 * Latency without load: `count` requests one after another on one keep-alive connection, timed
 * to the microsecond (autocannon's histogram has 1 ms steps, too coarse for sub-millisecond
 * overheads). The first tenth warms up and is not counted.
 */
async function probe(job) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const target = new URL(job.url);
  const times = [];
  let failed = 0;
  const samples = [];
  const warm = Math.ceil(job.count / 10);
  for (let i = 0; i < job.count + warm; i++) {
    // A fresh proof per request, signed before the clock starts: the agent's cost is not measured.
    const dpop = job.data.dpop ? (await dpopProofs(job.data.dpop, 1))[0] : undefined;
    const t0 = process.hrtime.bigint();
    const { status, body } = await new Promise((resolve, reject) => {
      const req = request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          method: 'POST',
          path: job.data.path,
          headers: {
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            ...(job.data.headers ?? {}),
            ...(dpop ? { dpop } : {}),
          },
        },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
        },
      );
      req.on('error', reject);
      req.end(job.data.body);
    });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (status !== 200 || !body.includes('"result"')) {
      failed++;
      if (samples.length < 3) samples.push(`${status} ${body.slice(0, 200)}`);
    } else if (i >= warm) times.push(ms);
  }
  agent.destroy();
  times.sort((a, b) => a - b);
  const at = (p) => times[Math.min(times.length - 1, Math.ceil(p * times.length) - 1)] ?? null;
  return { ok: times.length, failed, samples, latency: { p50: at(0.5), p99: at(0.99), mean: null } };
}

// The orchestrator went away (interrupted): nothing to report to.
process.on('disconnect', () => process.exit(0));

process.once('message', async (job) => {
  if (job.kind === 'probe') {
    try {
      process.send({ type: 'result', ...(await probe(job)) });
    } catch (err) {
      process.send({ type: 'error', message: err instanceof Error ? err.stack : String(err) });
    }
    return;
  }
  try {
    const tally = makeTally();
    if (job.data?.dpop) job.data.proofs = await dpopProofs(job.data.dpop, job.amount ?? 0);
    const requests = kinds[job.kind](job.data, tally);
    const started = performance.now();
    const result = await autocannon({
      url: job.url,
      connections: job.connections,
      pipelining: 1,
      ...(job.amount ? { amount: job.amount } : { duration: job.duration }),
      timeout: 30,
      requests,
    });
    // With `amount`, autocannon notices the end on its next one-second tick: time to the last answer.
    const seconds = job.amount ? ((tally.lastAt ?? performance.now()) - started) / 1000 : result.duration;
    process.send({
      type: 'result',
      ok: tally.ok,
      failed: tally.failed,
      starved: tally.starved,
      samples: tally.samples,
      seconds,
      opsPerSec: tally.ok / seconds,
      requestsPerSec: result.requests.average,
      latency: { p50: result.latency.p50, p99: result.latency.p99, mean: result.latency.average },
      errors: result.errors,
      timeouts: result.timeouts,
    });
  } catch (err) {
    process.send({ type: 'error', message: err instanceof Error ? err.stack : String(err) });
  }
});
