// `mcp-oauth clients add-service` and `clients services`: service clients, agents without a user
// (client credentials). The operation and its checks are src/grants/service_clients.ts.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CLI_ACTOR, LifecycleError } from '../grants/index.js';
import { withDatabase } from './database.js';
import { CliError, type CliIo, formatTime, printJson, printLine, printTable, safe } from './io.js';
import { cliLifecycle } from './lifecycle.js';

const MAX_JWKS_BYTES = 64 * 1024;

interface AddOptions {
  name: string;
  resource: string[];
  scope: string[];
  jwks?: string;
  secret?: boolean;
  json?: boolean;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerServiceClientCommands(clients: Command, io: CliIo): void {
  clients
    .command('add-service')
    .description(
      'register a service client: an agent without a user that gets tokens with client credentials for the MCP servers and scopes named here',
    )
    .requiredOption('--name <name>', 'what the client is (shown in lists and the audit trail)')
    .option('--resource <uri>', 'an MCP server it may call (repeat for several)', collect, [])
    .option('--scope <scope>', 'a scope it may get (repeat for several)', collect, [])
    .option('--jwks <file>', 'a JWK Set file of its public keys, for private_key_jwt (recommended)')
    .option('--secret', 'issue a client secret instead of using a key set (shown once)')
    .option('--json', 'print JSON')
    .action((opts: AddOptions) => addService(io, opts));
  clients
    .command('services')
    .description('list service clients with the servers and scopes they may use')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => listServices(io, opts));
}

function readJwks(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new CliError(safe(`cannot read ${JSON.stringify(file)}`));
  }
  if (text.length > MAX_JWKS_BYTES) throw new CliError('the --jwks file is too large for a key set');
  try {
    return JSON.parse(text);
  } catch {
    throw new CliError('the --jwks file is not JSON');
  }
}

async function addService(io: CliIo, opts: AddOptions): Promise<void> {
  const jwks = opts.jwks === undefined ? undefined : readJwks(opts.jwks);
  await withDatabase(io, async (command) => {
    const { ops } = cliLifecycle(command);
    let created: Awaited<ReturnType<typeof ops.addServiceClient>>;
    try {
      created = await ops.addServiceClient(CLI_ACTOR, {
        name: opts.name,
        resources: opts.resource,
        scopes: opts.scope,
        ...(jwks !== undefined ? { jwks } : {}),
        ...(opts.secret ? { secret: true } : {}),
      });
    } catch (err) {
      if (err instanceof LifecycleError) throw new CliError(safe(err.message));
      throw err;
    }
    const { clientId, clientSecret, service } = created;
    if (opts.json) {
      return printJson(io, {
        client_id: clientId,
        ...(clientSecret ? { client_secret: clientSecret } : {}),
        token_endpoint_auth_method: service.authMethod,
        resources: service.resources,
        scopes: service.scopes,
      });
    }
    if (clientSecret) io.stderr.write('This is the only time the client secret is shown. Store it now.\n');
    printLine(io, `client_id:   ${clientId}`);
    if (clientSecret) printLine(io, `secret:      ${clientSecret}`);
    printLine(io, `auth:        ${service.authMethod}`);
    printLine(io, safe(`resources:   ${service.resources.join(' ')}`));
    printLine(io, safe(`scopes:      ${service.scopes.join(' ')}`));
  });
}

async function listServices(io: CliIo, opts: { json?: boolean }): Promise<void> {
  await withDatabase(io, async (command) => {
    const services = await cliLifecycle(command).ops.listServiceClients();
    if (opts.json) return printJson(io, services);
    if (services.length === 0) return printLine(io, 'no service clients');
    printTable(
      io,
      ['CLIENT_ID', 'NAME', 'AUTH', 'RESOURCES', 'SCOPES', 'STATE', 'LAST_USED'],
      services.map((s) => [
        s.clientId,
        safe(s.name ?? ''),
        s.authMethod,
        safe(s.resources.join(' ')),
        safe(s.scopes.join(' ')),
        s.disabled ? 'disabled' : 'enabled',
        formatTime(s.lastUsedAt),
      ]),
    );
  });
}
