// Scenario 3: password sign-ins per second (the account sign-in form: CSRF check, user lookup,
// argon2id verify, new session row, audit row, cookie, 303) vs raw argon2id verifies per second
// with the same parameters behind a bare HTTP server in its own process.
import { PASSWORD, USERNAME } from '../lib/instances.mjs';
import { alternate, ratios } from '../lib/measure.mjs';
import { CookieJar, csrfOf } from '../lib/oauth.mjs';
import { freePort, startChild } from '../lib/proc.mjs';

export async function loginScenario(settings, inst, log) {
  log('scenario 3: password login');
  const port = await freePort();
  const argon = await startChild('argon2_server.mjs', { env: { BENCH_PORT: String(port) } });
  try {
    // The form's CSRF token is bound to the browser's CSRF cookie, not to one page view.
    const jar = new CookieJar();
    const page = await jar.get(`${inst.url}/account/login`);
    const csrf = csrfOf(await page.text());
    const body = new URLSearchParams({ csrf, username: USERNAME, password: PASSWORD, next: '/account' }).toString();
    const connections = settings.loginConnections;
    const m = await alternate(
      settings,
      [
        {
          key: 'subject',
          label: 'sign-in form (/account/login)',
          job: async (duration) => ({
            kind: 'login',
            url: inst.url,
            pid: inst.pid,
            connections,
            duration,
            data: { path: '/account/login', cookie: jar.header(), body },
          }),
        },
        {
          key: 'baseline',
          label: 'raw argon2id verify over HTTP',
          job: async (duration) => ({
            kind: 'login',
            url: argon.info.url,
            pid: argon.pid,
            connections,
            duration,
            data: { path: '/login', body: new URLSearchParams({ password: PASSWORD }).toString() },
          }),
        },
      ],
      log,
    );
    return {
      id: 'login',
      title: 'Password login (argon2id m=19 MiB, t=2, p=1)',
      unit: 'logins/s',
      ...m,
      ...ratios(m.subject, m.baseline),
      target: { ratio: 0.9 },
    };
  } finally {
    await argon.stop();
  }
}
