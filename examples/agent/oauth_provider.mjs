// The agent's OAuth state for the MCP SDK's OAuthClientProvider interface, kept in memory for one
// run: nothing is written to disk, and no token, code or secret is ever printed. Each step the SDK
// takes (discovery, registration, the browser, tokens) is reported through `say`.
import { randomBytes } from 'node:crypto';
import { openBrowser } from './browser.mjs';

export class ExampleAgentOAuth {
  #client;
  #tokens;
  #verifier;
  #discovery;

  /**
   * @param {object} opts
   * @param {{ redirectUrl: string, expect: Function }} opts.loopback
   * @param {string | undefined} opts.clientMetadataUrl  https URL of a Client ID Metadata Document
   * @param {boolean} opts.openBrowser  false: only print the address
   * @param {number} opts.timeoutMs  how long to wait for the browser
   * @param {(line: string) => void} opts.say
   */
  constructor(opts) {
    this.opts = opts;
    this.clientMetadataUrl = opts.clientMetadataUrl;
    /** The code the browser brings back, once a sign-in was started. */
    this.pendingCode = undefined;
  }

  get redirectUrl() {
    return this.opts.loopback.redirectUrl;
  }

  get clientMetadata() {
    return {
      client_name: 'mcp-oauth example agent',
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      // A program on the user's computer keeps no secret (RFC 8252 §8.5): a public client.
      token_endpoint_auth_method: 'none',
      software_id: 'mcp-oauth-example-agent',
      software_version: '1.0.0',
    };
  }

  state() {
    return randomBytes(16).toString('base64url');
  }

  saveDiscoveryState(state) {
    this.#discovery = state;
    const rs = state.resourceMetadata;
    const as = state.authorizationServerMetadata;
    if (rs) {
      const scopes = rs.scopes_supported?.join(' ') || 'none listed';
      this.opts.say(`Discovery: ${rs.resource} is protected by ${state.authorizationServerUrl} (scopes: ${scopes})`);
    }
    if (as) {
      const ways = [
        as.client_id_metadata_document_supported === true ? 'client metadata documents' : undefined,
        as.registration_endpoint ? 'dynamic registration' : undefined,
      ].filter(Boolean);
      this.opts.say(
        `Discovery: authorization server ${as.issuer} accepts ${ways.join(' and ') || 'pre-registered clients only'}`,
      );
    }
  }

  discoveryState() {
    return this.#discovery;
  }

  clientInformation() {
    return this.#client;
  }

  saveClientInformation(info) {
    this.#client = info;
    // Only the public identifier: a registration access token may come with it, and stays here.
    const how = info.client_id === this.clientMetadataUrl ? 'client metadata document' : 'registered (RFC 7591)';
    this.opts.say(`Client: ${how}, client_id ${info.client_id}`);
  }

  tokens() {
    return this.#tokens;
  }

  saveTokens(tokens) {
    this.#tokens = tokens;
    const scope = tokens.scope ? `scope "${tokens.scope}"` : 'no scope named';
    const expiry = tokens.expires_in ? `, expires in ${tokens.expires_in} s` : '';
    const refresh = tokens.refresh_token ? 'a refresh token too' : 'no refresh token';
    this.opts.say(`Tokens: got an access token (${scope}${expiry}) and ${refresh}; neither is printed`);
  }

  async redirectToAuthorization(url) {
    const as = this.#discovery?.authorizationServerMetadata;
    this.pendingCode = this.opts.loopback.expect({
      state: url.searchParams.get('state'),
      issuer: as?.issuer,
      issRequired: as?.authorization_response_iss_parameter_supported === true,
      timeoutMs: this.opts.timeoutMs,
    });
    // Awaited by the caller; this keeps an early failure from being reported as unhandled.
    this.pendingCode.catch(() => {});
    this.opts.say('Sign-in: open this address in your browser, sign in and allow access:');
    this.opts.say(`  ${url.href}`);
    const opened = this.opts.openBrowser ? await openBrowser(url.href) : undefined;
    if (opened) this.opts.say(`Sign-in: asked ${opened} to open it`);
    else if (this.opts.openBrowser) this.opts.say('Sign-in: could not open a browser here; open the address above');
    this.opts.say(`Sign-in: waiting for the browser to come back to ${this.redirectUrl}`);
  }

  saveCodeVerifier(verifier) {
    this.#verifier = verifier;
  }

  codeVerifier() {
    if (!this.#verifier) throw new Error('no sign-in was started');
    return this.#verifier;
  }

  invalidateCredentials(scope) {
    if (scope === 'all' || scope === 'client') this.#client = undefined;
    if (scope === 'all' || scope === 'tokens') this.#tokens = undefined;
    if (scope === 'all' || scope === 'verifier') this.#verifier = undefined;
    if (scope === 'all' || scope === 'discovery') this.#discovery = undefined;
  }
}
