import type { Command } from 'commander';
import { CLI_ACTOR, domainOf } from '../grants/index.js';
import { epochSeconds, parseDuration } from '../lib/duration.js';
import { redirectHosts } from '../lib/redirect_uris.js';
import { isMetadataDocumentClientId } from '../provider/client_metadata_document.js';
import {
  createClientStateRepository,
  createRegistrationTokenRepository,
  METADATA_DOCUMENT,
} from '../storage/client_state.js';
import { type ClientMetadata, createClientRepository, type RelatedCounts } from '../storage/clients.js';
import { cliAudit } from './audit.js';
import { withDatabase } from './database.js';
import { CliError, type CliIo, formatTime, printJson, printLine, printTable, safe } from './io.js';
import { cliLifecycle, refused } from './lifecycle.js';
import { registerServiceClientCommands } from './service_clients.js';

// Never shown: the secret itself and any registration access token (RFC 7592 §3).
const HIDDEN = new Set(['client_secret', 'registration_access_token']);

export function registerClientCommands(program: Command, io: CliIo): void {
  const clients = program
    .command('clients')
    .description('inspect, disable and delete registered agents (OAuth clients)');
  clients
    .command('list')
    .description('list registered clients')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => listClients(io, opts));
  clients
    .command('show')
    .description("show a client's metadata and what was issued to it")
    .argument('<client_id>', "the agent's client_id, as shown by clients list")
    .option('--json', 'print JSON')
    .action((clientId: string, opts: { json?: boolean }) => showClient(io, clientId, opts));
  clients
    .command('delete')
    .description('delete a client with all its grants, codes and tokens')
    .argument('<client_id>', "the agent's client_id, as shown by clients list")
    .action((clientId: string) => deleteClient(io, clientId));
  clients
    .command('disable')
    .description('stop an agent from getting grants or tokens, and revoke everything it holds')
    .argument('[client_id]', "the agent's client_id, as shown by clients list")
    .option('--domain <domain>', 'instead: disable every metadata-document agent on this domain and its subdomains')
    .action((clientId: string | undefined, opts: { domain?: string }) => disableClient(io, clientId, opts));
  clients
    .command('enable')
    .description('allow a disabled agent again; every user must consent again')
    .argument('[client_id]', "the agent's client_id, as shown by clients list")
    .option('--domain <domain>', 'instead: allow metadata documents from this domain again')
    .action((clientId: string | undefined, opts: { domain?: string }) => enableClient(io, clientId, opts));
  clients
    .command('token')
    .description(
      'make an initial access token for MCP_OAUTH_REGISTRATION=token (RFC 7591 §3); it is printed once and never again',
    )
    .option('--label <text>', 'what the token is for (shown in lists)', 'registration')
    .option('--ttl <duration>', 'how long it stays valid (e.g. 1h, 7d; at most 365d)', '7d')
    .option('--uses <n>', 'how many registrations it allows (default: unlimited until it expires)')
    .option('--json', 'print JSON')
    .action((opts: TokenOptions) => createToken(io, opts));
  clients
    .command('tokens')
    .description('list registration tokens (never the secrets)')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => listTokens(io, opts));
  clients
    .command('token-revoke')
    .description('revoke a registration token at once')
    .argument('<id>', 'the token id shown by clients tokens (not the token itself)')
    .action((id: string) => revokeToken(io, id));
  registerServiceClientCommands(clients, io);
}

function summary(clientId: string, metadata: ClientMetadata, createdAt: number, disabled: boolean) {
  const issued = metadata.client_id_issued_at;
  return {
    clientId,
    name: typeof metadata.client_name === 'string' ? metadata.client_name : null,
    redirectHosts: redirectHosts(metadata.redirect_uris),
    issuedAt: typeof issued === 'number' ? issued : createdAt,
    applicationType: typeof metadata.application_type === 'string' ? metadata.application_type : 'web',
    disabled,
  };
}

function visible(metadata: ClientMetadata): Record<string, unknown> {
  return Object.fromEntries(Object.entries(metadata).filter(([key]) => !HIDDEN.has(key)));
}

function describeCounts(counts: RelatedCounts): string {
  const parts = Object.entries(counts).map(([model, n]) => `${model} ${n}`);
  return parts.length > 0 ? parts.join(', ') : 'none';
}

function noClient(clientId: string): CliError {
  return new CliError(`no client ${safe(JSON.stringify(clientId))}`);
}

async function listClients(io: CliIo, opts: { json?: boolean }): Promise<void> {
  await withDatabase(io, async ({ sql }) => {
    const states = await createClientStateRepository(sql).all();
    const clients = (await createClientRepository(sql).list()).map((c) =>
      summary(c.clientId, c.metadata, c.createdAt, Boolean(states.get(c.clientId)?.disabledAt)),
    );
    // Metadata-document agents have no registration: what their document said when last used.
    for (const state of states.values()) {
      if (!isMetadataDocumentClientId(state.clientId)) continue;
      const metadata: ClientMetadata = { client_id: state.clientId, redirect_uris: state.redirectUris };
      if (state.name !== null) metadata.client_name = state.name;
      if (state.registeredVia === METADATA_DOCUMENT) metadata.application_type = 'document';
      clients.push(summary(state.clientId, metadata, state.firstUsedAt ?? 0, Boolean(state.disabledAt)));
    }
    if (opts.json) return printJson(io, clients);
    if (clients.length === 0) return printLine(io, 'no registered clients');
    printTable(
      io,
      ['CLIENT_ID', 'NAME', 'REDIRECT_HOSTS', 'ISSUED', 'TYPE', 'STATUS'],
      clients.map((c) => [
        c.clientId,
        c.name ?? '-',
        c.redirectHosts.join(','),
        formatTime(c.issuedAt),
        c.applicationType,
        c.disabled ? 'disabled' : 'active',
      ]),
    );
  });
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value.join(', ');
  return JSON.stringify(value) ?? String(value);
}

async function showClient(io: CliIo, clientId: string, opts: { json?: boolean }): Promise<void> {
  await withDatabase(io, async ({ sql }) => {
    const repo = createClientRepository(sql);
    const client = await repo.find(clientId);
    const state = client ? undefined : await createClientStateRepository(sql).find(clientId);
    if (!client && state && isMetadataDocumentClientId(clientId)) {
      // A metadata-document agent: what its document said when last used, and its state.
      const shown = {
        client_id: clientId,
        client_name: state.name,
        redirect_uris: state.redirectUris,
        first_used_at: state.firstUsedAt,
        last_used_at: state.lastUsedAt,
        disabled_at: state.disabledAt,
      };
      if (opts.json) return printJson(io, { client: shown, related: {} });
      for (const [key, value] of Object.entries(shown)) printLine(io, safe(`${key}: ${formatValue(value)}`));
      return;
    }
    if (!client) throw noClient(clientId);
    const metadata = visible(client.metadata);
    const related = await repo.related(clientId);
    if (opts.json) return printJson(io, { client: metadata, related });
    for (const [key, value] of Object.entries(metadata)) printLine(io, safe(`${key}: ${formatValue(value)}`));
    printLine(io, `issued to it: ${describeCounts(related)}`);
  });
}

async function deleteClient(io: CliIo, clientId: string): Promise<void> {
  await withDatabase(io, async (command) => {
    const result = await cliLifecycle(command).ops.deleteClient(CLI_ACTOR, clientId);
    if (!result) throw noClient(clientId);
    printLine(io, safe(`deleted client ${clientId}; also deleted: ${describeCounts(result.deleted)}`));
  });
}

/** The same host names the metadata-document lists take (src/lib/host_names.ts). */
function checkDomain(domain: string): Promise<string> {
  return refused(() => domainOf(domain));
}

function oneTarget(clientId: string | undefined, opts: { domain?: string }): void {
  if ((clientId === undefined) === (opts.domain === undefined)) {
    throw new CliError('name either a client_id or --domain <domain>');
  }
}

/** A registration, or a metadata-document URL (which may be disabled before it is ever used). */
async function requireClient(stores: ReturnType<typeof cliLifecycle>['stores'], id: string): Promise<void> {
  if (!(await stores.clients.find(id)) && !isMetadataDocumentClientId(id)) throw noClient(id);
}

const grants = (n: number) => `${n} grant${n === 1 ? '' : 's'}`;

async function disableClient(io: CliIo, clientId: string | undefined, opts: { domain?: string }): Promise<void> {
  oneTarget(clientId, opts);
  if (opts.domain !== undefined) {
    const domain = await checkDomain(opts.domain);
    return withDatabase(io, async (command) => {
      // Every grant held by a metadata-document agent on the domain is revoked now; the block keeps
      // documents from being fetched, and cached ones from being used.
      const ids = await cliLifecycle(command).ops.disableDomain(CLI_ACTOR, domain);
      if (!ids) return printLine(io, safe(`domain ${domain} is already disabled`));
      printLine(io, safe(`disabled domain ${domain}; revoked ${grants(ids.length)}`));
    });
  }
  const id = clientId as string;
  await withDatabase(io, async (command) => {
    const { stores, ops } = cliLifecycle(command);
    await requireClient(stores, id);
    const ids = await ops.disableClient(CLI_ACTOR, id);
    if (!ids) return printLine(io, safe(`client ${id} is already disabled`));
    printLine(io, safe(`disabled client ${id}; revoked ${grants(ids.length)}`));
  });
}

async function enableClient(io: CliIo, clientId: string | undefined, opts: { domain?: string }): Promise<void> {
  oneTarget(clientId, opts);
  if (opts.domain !== undefined) {
    const domain = await checkDomain(opts.domain);
    return withDatabase(io, async (command) => {
      if (!(await cliLifecycle(command).ops.enableDomain(CLI_ACTOR, domain))) {
        return printLine(io, safe(`domain ${domain} is not disabled`));
      }
      printLine(io, safe(`enabled domain ${domain}`));
    });
  }
  const id = clientId as string;
  await withDatabase(io, async (command) => {
    const { stores, ops } = cliLifecycle(command);
    await requireClient(stores, id);
    if (!(await ops.enableClient(CLI_ACTOR, id))) return printLine(io, safe(`client ${id} is not disabled`));
    printLine(io, safe(`enabled client ${id}; its users must consent again`));
  });
}

interface TokenOptions {
  label: string;
  ttl: string;
  uses?: string;
  json?: boolean;
}

async function createToken(io: CliIo, opts: TokenOptions): Promise<void> {
  const ttl = parseDuration(opts.ttl);
  if (ttl === undefined || ttl < 60 || ttl > 365 * 86400) {
    throw new CliError('--ttl must be a duration from 60s to 365d, like 1h or 7d');
  }
  let uses: number | null = null;
  if (opts.uses !== undefined) {
    if (!/^\d{1,6}$/.test(opts.uses) || Number(opts.uses) < 1)
      throw new CliError('--uses must be a whole number from 1');
    uses = Number(opts.uses);
  }
  const label = opts.label.trim();
  if (label === '' || label.length > 100 || /[\u0000-\u001f\u007f]/.test(label)) {
    throw new CliError('--label must be 1 to 100 printable characters');
  }
  await withDatabase(io, async ({ config, sql }) => {
    const { token, record } = await createRegistrationTokenRepository(sql).create(label, ttl, uses, epochSeconds());
    await cliAudit(sql).record({
      event: 'registration_token.created',
      result: 'success',
      details: { by: 'cli', token_id: record.id, label, uses },
    });
    if (config.registration !== 'token') {
      io.stderr.write(
        `Note: MCP_OAUTH_REGISTRATION is ${config.registration}; the token is only asked for when it is "token".\n`,
      );
    }
    if (opts.json) return printJson(io, { id: record.id, label, expiresAt: record.expiresAt, usesLeft: uses, token });
    io.stderr.write('This is the only time the token is shown. Give it to the agent as its initial access token.\n');
    printLine(io, `id:      ${record.id}`);
    printLine(io, `expires: ${formatTime(record.expiresAt)}`);
    printLine(io, `token:   ${token}`);
  });
}

async function listTokens(io: CliIo, opts: { json?: boolean }): Promise<void> {
  await withDatabase(io, async ({ sql }) => {
    const tokens = await createRegistrationTokenRepository(sql).list();
    if (opts.json) return printJson(io, tokens);
    if (tokens.length === 0) return printLine(io, 'no registration tokens');
    printTable(
      io,
      ['ID', 'LABEL', 'EXPIRES', 'USES_LEFT', 'LAST_USED'],
      tokens.map((t) => [
        t.id,
        safe(t.label),
        formatTime(t.expiresAt),
        t.usesLeft === null ? 'unlimited' : String(t.usesLeft),
        formatTime(t.lastUsedAt),
      ]),
    );
  });
}

async function revokeToken(io: CliIo, id: string): Promise<void> {
  await withDatabase(io, async ({ sql }) => {
    if (!(await createRegistrationTokenRepository(sql).revoke(id))) {
      throw new CliError(`no registration token ${safe(JSON.stringify(id))}`);
    }
    await cliAudit(sql).record({
      event: 'registration_token.revoked',
      result: 'success',
      details: { by: 'cli', token_id: id },
    });
    printLine(io, safe(`revoked registration token ${id}`));
  });
}
