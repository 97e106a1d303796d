// The doctor's browser for its test user (docs/operating.md#doctor): plain requests with a cookie
// jar, following redirects on the issuer's origin and filling the sign-in and consent forms the
// way a person would, up to the redirect back to the agent. No JavaScript and no HTML engine: the
// pages are this server's own, read just enough to find a form, its action and its fields.
import { isFailure, type Probe, type ProbeResponse } from './doctor_probe.js';

export interface TestUser {
  username: string;
  password: string;
}

/** Where an authorization ended: the redirect back to the agent, or why it did not get there. */
export type AuthorizationOutcome = { redirect: URL } | { stopped: string; signInSeen?: boolean };

const MAX_STEPS = 10;

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", '#x27': "'" };
const decodeEntities = (s: string) => s.replace(/&(amp|lt|gt|quot|#39|#x27);/g, (_, e: string) => ENTITIES[e] ?? '');
const attr = (tag: string, name: string) => {
  const m = new RegExp(`\\s${name}="([^"]*)"`).exec(tag);
  return m?.[1] === undefined ? undefined : decodeEntities(m[1]);
};

interface Form {
  action: string;
  fields: { name: string; value: string; checked: boolean }[];
}

/** The post forms of a page, with their hidden fields and checkboxes. */
export function formsOf(html: string): Form[] {
  const forms: Form[] = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)) {
    const [, open = '', body = ''] = m;
    if (attr(open, 'method')?.toLowerCase() !== 'post') continue;
    const fields = [...body.matchAll(/<(?:input|button)\b[^>]*>/g)].map(([tag]) => ({
      name: attr(tag, 'name') ?? '',
      value: attr(tag, 'value') ?? '',
      checked: /\schecked[\s>]/.test(tag),
    }));
    forms.push({ action: attr(open, 'action') ?? '', fields });
  }
  return forms;
}

/** The page's own message (an error, a notice, or its heading), for telling the operator what happened. */
function pageMessage(html: string): string {
  const m =
    /role="alert">([^<]{1,200})</.exec(html) ??
    /class="notice"[^>]*>([^<]{1,200})</.exec(html) ??
    /<h1>([^<]{1,200})</.exec(html);
  return m?.[1] ? decodeEntities(m[1]).trim() : 'no message';
}

export class DoctorBrowser {
  private readonly jar = new Map<string, string>();
  private readonly origin: string;

  constructor(
    private readonly probe: Probe,
    issuer: string,
  ) {
    this.origin = new URL(issuer).origin;
  }

  private store(res: ProbeResponse): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === '' || /max-age=0\b|expires=thu, 01 jan 1970/i.test(line)) this.jar.delete(name);
      else this.jar.set(name, value);
    }
  }

  /** Cookies go to the issuer's origin only; the test user's password too (checked by the callers). */
  private async send(url: URL, method: string, body?: string): Promise<ProbeResponse | { error: string }> {
    const headers: Record<string, string> = { accept: 'text/html' };
    if (url.origin === this.origin && this.jar.size > 0) {
      headers.cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    }
    if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await this.probe.request(url.href, { method, headers, ...(body === undefined ? {} : { body }) });
    if (!isFailure(res)) this.store(res);
    return res;
  }

  /**
   * Runs an authorization request to its end: signs in with `user` when asked, allows on the
   * consent page what is ticked there (what the agent asked for; `tick` adds more of what the page
   * offers), and stops at the redirect to `redirectUri`.
   */
  async authorize(
    url: URL,
    redirectUri: string,
    user: TestUser,
    opts: { tick?: string[]; signInOnly?: boolean } = {},
  ): Promise<AuthorizationOutcome> {
    let at = url;
    let res = await this.send(at, 'GET');
    let signedIn = false;
    const stop = (why: string) => ({ stopped: why, signInSeen: signedIn });
    for (let step = 0; step < MAX_STEPS; step++) {
      if (isFailure(res)) return stop(`${at.origin}${at.pathname}: unreachable (${res.error})`);
      if (res.status >= 300 && res.status < 400) {
        const next = URL.parse(res.headers.get('location') ?? '', at.href);
        if (!next) return stop(`HTTP ${res.status} without a usable Location`);
        if (`${next.origin}${next.pathname}` === redirectUri) return { redirect: next };
        if (next.origin !== this.origin) return stop(`redirected away to ${next.origin}`);
        at = next;
        res = await this.send(at, 'GET');
        continue;
      }
      if (res.status !== 200) return stop(`HTTP ${res.status} at ${at.pathname}: ${pageMessage(res.text)}`);
      const forms = formsOf(res.text);
      const login = forms.find((f) => f.fields.some((x) => x.name === 'password'));
      const code = forms.find((f) => f.fields.some((x) => x.name === 'code'));
      const consent = forms.find((f) => f.fields.some((x) => x.name === 'decision'));
      const post = (form: Form, fields: [string, string][]) => {
        const target = URL.parse(form.action, at.href);
        // Never send the password (or anything) to another origin, whatever the page says.
        if (!target || target.origin !== this.origin) return undefined;
        const csrf = form.fields.find((x) => x.name === 'csrf')?.value ?? '';
        at = target;
        return this.send(target, 'POST', new URLSearchParams([['csrf', csrf], ...fields]).toString());
      };
      let sent: ReturnType<typeof post>;
      if (login && !signedIn) {
        signedIn = true;
        sent = post(login, [
          ['username', user.username],
          ['password', user.password],
        ]);
      } else if (login || code) {
        return stop(`the sign-in page asks for more than a password: ${pageMessage(res.text)}`);
      } else if (consent && !opts.signInOnly) {
        const ticked = consent.fields.filter((x) => x.name === 'scope' && x.checked).map((x) => x.value);
        const offered = consent.fields.filter((x) => x.name === 'extra_scope').map((x) => x.value);
        const extra = (opts.tick ?? []).filter((s) => offered.includes(s));
        sent = post(consent, [
          ['decision', 'allow'],
          ...ticked.map((s): [string, string] => ['scope', s]),
          ...extra.map((s): [string, string] => ['extra_scope', s]),
        ]);
      } else if (consent) {
        return stop('consent');
      } else {
        return stop(`a page the doctor cannot answer: ${pageMessage(res.text)}`);
      }
      if (!sent) return stop('a form posts to another origin');
      res = await sent;
    }
    return stop(`no answer after ${MAX_STEPS} steps`);
  }

  /**
   * Ends this browser's sign-in on the server ("Not you? Use another account" on a consent page,
   * then cancel on the sign-in page that follows): the session must not outlive the doctor.
   */
  async signOut(url: URL): Promise<void> {
    let at = url;
    let res = await this.send(at, 'GET');
    for (let step = 0; step < MAX_STEPS && !isFailure(res); step++) {
      if (res.status >= 300 && res.status < 400) {
        const next = URL.parse(res.headers.get('location') ?? '', at.href);
        if (!next || next.origin !== this.origin) return;
        at = next;
        res = await this.send(at, 'GET');
        continue;
      }
      if (res.status !== 200) return;
      const forms = formsOf(res.text);
      const form =
        forms.find((f) => f.action.endsWith('/switch-account')) ?? forms.find((f) => f.action.endsWith('/abort'));
      const target = form ? URL.parse(form.action, at.href) : undefined;
      if (!form || !target || target.origin !== this.origin) return;
      const csrf = form.fields.find((x) => x.name === 'csrf')?.value ?? '';
      at = target;
      const done = form.action.endsWith('/abort');
      res = await this.send(target, 'POST', new URLSearchParams({ csrf }).toString());
      if (done) return;
    }
  }
}
