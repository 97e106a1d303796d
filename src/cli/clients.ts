import type { Command } from 'commander';
import { type ClientMetadata, createClientRepository, type RelatedCounts } from '../storage/clients.js';
import { withDatabase } from './database.js';
import { CliError, type CliIo, formatTime, printJson, printLine, printTable, safe } from './io.js';

// Never shown: the secret itself and any registration access token (RFC 7592 §3).
const HIDDEN = new Set(['client_secret', 'registration_access_token']);

export function registerClientCommands(program: Command, io: CliIo): void {
  const clients = program.command('clients').description('inspect and delete registered agents (OAuth clients)');
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
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** Host names of the redirect URIs; the scheme for private-use schemes (RFC 8252 §7.1). */
export function redirectHosts(metadata: ClientMetadata): string[] {
  const hosts = strings(metadata.redirect_uris).map((uri) => {
    const url = URL.parse(uri);
    if (!url) return '?';
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.hostname : url.protocol;
  });
  return [...new Set(hosts)];
}

function summary(clientId: string, metadata: ClientMetadata, createdAt: number) {
  const issued = metadata.client_id_issued_at;
  return {
    clientId,
    name: typeof metadata.client_name === 'string' ? metadata.client_name : null,
    redirectHosts: redirectHosts(metadata),
    issuedAt: typeof issued === 'number' ? issued : createdAt,
    applicationType: typeof metadata.application_type === 'string' ? metadata.application_type : 'web',
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
    const clients = createClientRepository(db)
      .list()
      .map((c) => summary(c.clientId, c.metadata, c.createdAt));
    if (opts.json) return printJson(io, clients);
    if (clients.length === 0) return printLine(io, 'no registered clients');
    printTable(
      io,
      ['CLIENT_ID', 'NAME', 'REDIRECT_HOSTS', 'ISSUED', 'TYPE'],
      clients.map((c) => [
        c.clientId,
        c.name ?? '-',
        c.redirectHosts.join(','),
        formatTime(c.issuedAt),
        c.applicationType,
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
  await withDatabase(io, ({ db }) => {
    const deleted = createClientRepository(db).delete(clientId);
    if (!deleted) throw noClient(clientId);
    printLine(io, safe(`deleted client ${clientId}; also deleted: ${describeCounts(deleted)}`));
  });
}
