import type { Command } from 'commander';
import { recordGrantRevocations } from '../audit/grant_revocations.js';
import { epochSeconds } from '../lib/duration.js';
import { redirectHosts } from '../lib/redirect_uris.js';
import { createClientStateRepository } from '../storage/client_state.js';
import { type ClientMetadata, createClientRepository, type RelatedCounts } from '../storage/clients.js';
import { createGrantRecordRepository } from '../storage/grant_records.js';
import { createRevocationService } from '../storage/revocations.js';
import { cliAudit } from './audit.js';
import { withDatabase } from './database.js';
import { CliError, type CliIo, formatTime, printJson, printLine, printTable, safe } from './io.js';

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
    .argument('<client_id>')
    .option('--json', 'print JSON')
    .action((clientId: string, opts: { json?: boolean }) => showClient(io, clientId, opts));
  clients
    .command('delete')
    .description('delete a client with all its grants, codes and tokens')
    .argument('<client_id>')
    .action((clientId: string) => deleteClient(io, clientId));
  clients
    .command('disable')
    .description('stop an agent from getting grants or tokens, and revoke everything it holds')
    .argument('<client_id>')
    .action((clientId: string) => disableClient(io, clientId));
  clients
    .command('enable')
    .description('allow a disabled agent again; every user must consent again')
    .argument('<client_id>')
    .action((clientId: string) => enableClient(io, clientId));
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
  await withDatabase(io, ({ db }) => {
    const states = createClientStateRepository(db).all();
    const clients = createClientRepository(db)
      .list()
      .map((c) => summary(c.clientId, c.metadata, c.createdAt, Boolean(states.get(c.clientId)?.disabledAt)));
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
  await withDatabase(io, ({ db }) => {
    const repo = createClientRepository(db);
    const client = repo.find(clientId);
    if (!client) throw noClient(clientId);
    const metadata = visible(client.metadata);
    const related = repo.related(clientId);
    if (opts.json) return printJson(io, { client: metadata, related });
    for (const [key, value] of Object.entries(metadata)) printLine(io, safe(`${key}: ${formatValue(value)}`));
    printLine(io, `issued to it: ${describeCounts(related)}`);
  });
}

async function deleteClient(io: CliIo, clientId: string): Promise<void> {
  await withDatabase(io, ({ config, db }) => {
    const repo = createClientRepository(db);
    if (!repo.find(clientId)) throw noClient(clientId);
    const counts = repo.related(clientId);
    // Its grants first, through the revocation service: the records keep the history and the feed
    // tells resource servers that the access tokens already out are dead too.
    const ids = createRevocationService(db, { accessTokenTtl: config.accessTokenTtl }).revokeClientGrants(
      clientId,
      'cli',
      epochSeconds(),
    );
    if (!repo.delete(clientId)) throw noClient(clientId);
    const audit = cliAudit(db);
    recordGrantRevocations(audit, createGrantRecordRepository(db), ids, { by: 'cli', reason: 'agent deleted' });
    audit.record({ event: 'client.deleted', result: 'success', clientId, details: { by: 'cli' } });
    printLine(io, safe(`deleted client ${clientId}; also deleted: ${describeCounts(counts)}`));
  });
}

async function disableClient(io: CliIo, clientId: string): Promise<void> {
  await withDatabase(io, ({ config, db }) => {
    if (!createClientRepository(db).find(clientId)) throw noClient(clientId);
    if (createClientStateRepository(db).find(clientId)?.disabledAt) {
      return printLine(io, safe(`client ${clientId} is already disabled`));
    }
    const revocations = createRevocationService(db, { accessTokenTtl: config.accessTokenTtl });
    const ids = revocations.disableClient(clientId, 'cli', epochSeconds());
    const audit = cliAudit(db);
    audit.record({ event: 'client.disabled', result: 'success', clientId, details: { by: 'cli' } });
    recordGrantRevocations(audit, createGrantRecordRepository(db), ids, { by: 'cli', reason: 'agent disabled' });
    printLine(io, safe(`disabled client ${clientId}; revoked ${ids.length} grant${ids.length === 1 ? '' : 's'}`));
  });
}

async function enableClient(io: CliIo, clientId: string): Promise<void> {
  await withDatabase(io, ({ config, db }) => {
    if (!createClientRepository(db).find(clientId)) throw noClient(clientId);
    if (!createClientStateRepository(db).find(clientId)?.disabledAt) {
      return printLine(io, safe(`client ${clientId} is not disabled`));
    }
    createRevocationService(db, { accessTokenTtl: config.accessTokenTtl }).enableClient(clientId);
    cliAudit(db).record({ event: 'client.enabled', result: 'success', clientId, details: { by: 'cli' } });
    printLine(io, safe(`enabled client ${clientId}; its users must consent again`));
  });
}
