import type { Command } from 'commander';
import { canonicalResource } from '../lib/resource_uri.js';
import { DEFAULT_READ_SCOPE, DEFAULT_WRITE_SCOPE, isScopeToken, OIDC_SCOPES } from '../lib/scopes.js';
import { createResourceCredentialRepository } from '../storage/resource_credentials.js';
import { createResourceRepository, type Resource, type ResourceScope } from '../storage/resources.js';
import { withDatabase } from './database.js';
import { CliError, type CliIo, formatTime, printJson, printLine, printTable, safe } from './io.js';

export interface ScopeOptions {
  scope: string[];
  defaultScope: string[];
  writeScope: string[];
}

type AddOptions = ScopeOptions & { name: string; json?: boolean };

const DEFAULT_SCOPES = [
  { scope: DEFAULT_READ_SCOPE, description: 'Read data and list tools' },
  { scope: DEFAULT_WRITE_SCOPE, description: 'Change data and call tools that write' },
];

const CONTROL = /\p{Cc}/u;

const quoted = (value: string) => safe(JSON.stringify(value));

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function registerResourceCommands(program: Command, io: CliIo): void {
  const resources = program.command('resources').description('manage the MCP servers that may receive tokens');
  resources
    .command('add')
    .description('register an MCP server by its resource URI (RFC 8707); stored in canonical form')
    .argument('<uri>')
    .requiredOption('--name <name>', 'name shown to users on the consent page')
    .option(
      '--scope <scope=description>',
      'a scope it offers (repeatable; default mcp:read and mcp:write)',
      collect,
      [],
    )
    .option(
      '--default-scope <scope>',
      'granted when an agent asks for none (repeatable; default: the non-write scopes)',
      collect,
      [],
    )
    .option(
      '--write-scope <scope>',
      'mark a scope as one that changes data (names ending in :write always are)',
      collect,
      [],
    )
    .option('--json', 'print the resource as JSON')
    .action((uri: string, opts: AddOptions) => addResource(io, uri, opts));
  resources
    .command('list')
    .description('list registered MCP servers and their scopes')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => listResources(io, opts));
  resources
    .command('remove')
    .description('unregister an MCP server; agents can no longer get tokens for it')
    .argument('<uri>')
    .action((uri: string) => removeResource(io, uri));
  resources
    .command('credential')
    .description('create the credential a resource server uses for /introspect (replaces any earlier one)')
    .argument('<uri>')
    .option('--json', 'print JSON')
    .action((uri: string, opts: { json?: boolean }) => createCredential(io, uri, opts));
}

function canonical(input: string): string {
  const result = canonicalResource(input);
  if (!result.ok) throw new CliError(`${result.reason}: ${quoted(input)}`);
  return result.uri;
}

function parseScope(spec: string): { scope: string; description: string } {
  const at = spec.indexOf('=');
  const scope = at < 0 ? spec : spec.slice(0, at);
  const description = at < 0 ? spec : spec.slice(at + 1).trim();
  if (!isScopeToken(scope)) throw new CliError(`--scope ${quoted(scope)} is not a valid scope name (RFC 6749 §3.3)`);
  if (OIDC_SCOPES.has(scope)) throw new CliError(`--scope ${scope} is reserved by OpenID Connect`);
  if (description === '' || CONTROL.test(description)) {
    throw new CliError(
      `--scope ${scope} needs a description without control characters: --scope "${scope}=What it allows"`,
    );
  }
  return { scope, description };
}

/** The scopes a new resource offers, from the command-line options. */
export function buildScopes(opts: ScopeOptions): ResourceScope[] {
  const given = opts.scope.length > 0 ? opts.scope.map(parseScope) : DEFAULT_SCOPES;
  const names = new Set<string>();
  for (const { scope } of given) {
    if (names.has(scope)) throw new CliError(`scope ${scope} is given twice`);
    names.add(scope);
  }
  for (const [flag, list] of [
    ['--default-scope', opts.defaultScope],
    ['--write-scope', opts.writeScope],
  ] as const) {
    const unknown = list.find((s) => !names.has(s));
    if (unknown !== undefined) throw new CliError(`${flag} ${quoted(unknown)} is not one of the resource's scopes`);
  }
  const scopes = given.map(({ scope, description }) => {
    const isWrite = scope.endsWith(':write') || opts.writeScope.includes(scope);
    const isDefault = opts.defaultScope.length > 0 ? opts.defaultScope.includes(scope) : !isWrite;
    return { scope, description, isDefault, isWrite };
  });
  // PITFALLS item 4: an agent that asks for no scope must still get one.
  if (!scopes.some((s) => s.isDefault))
    throw new CliError('the resource needs a default scope: name one with --default-scope');
  return scopes;
}

function resourceJson(resource: Resource) {
  return { uri: resource.uri, name: resource.name, createdAt: resource.createdAt, scopes: resource.scopes };
}

function printScopes(io: CliIo, scopes: ResourceScope[]): void {
  const yesNo = (b: boolean) => (b ? 'yes' : 'no');
  printTable(
    io,
    ['SCOPE', 'DEFAULT', 'WRITE', 'DESCRIPTION'],
    scopes.map((s) => [s.scope, yesNo(s.isDefault), yesNo(s.isWrite), s.description]),
  );
}

async function addResource(io: CliIo, input: string, opts: AddOptions): Promise<void> {
  const uri = canonical(input);
  const name = opts.name.trim();
  if (name === '' || name.length > 100 || CONTROL.test(name)) {
    throw new CliError('--name must be 1-100 characters without control characters');
  }
  const scopes = buildScopes(opts);
  await withDatabase(io, ({ db }) => {
    const resource = createResourceRepository(db).create(uri, name, scopes);
    if (opts.json) return printJson(io, resourceJson(resource));
    const note = uri === input ? '' : ` (canonical form of ${quoted(input)})`;
    printLine(io, `added resource ${resource.uri}${note}`);
    printScopes(io, resource.scopes);
  });
}

async function listResources(io: CliIo, opts: { json?: boolean }): Promise<void> {
  await withDatabase(io, ({ db }) => {
    const resources = createResourceRepository(db).list();
    if (opts.json) return printJson(io, resources.map(resourceJson));
    if (resources.length === 0)
      return printLine(io, 'no resources; add one with: mcp-oauth resources add URI --name NAME');
    const label = (s: ResourceScope) => {
      const marks = [s.isDefault ? 'default' : '', s.isWrite ? 'write' : ''].filter(Boolean);
      return marks.length > 0 ? `${s.scope} (${marks.join(', ')})` : s.scope;
    };
    printTable(
      io,
      ['URI', 'NAME', 'SCOPES', 'CREATED'],
      resources.map((r) => [r.uri, r.name, r.scopes.map(label).join(' '), formatTime(r.createdAt)]),
    );
  });
}

async function removeResource(io: CliIo, input: string): Promise<void> {
  const uri = canonical(input);
  await withDatabase(io, ({ db }) => {
    if (!createResourceRepository(db).remove(uri)) throw new CliError(`no resource ${uri}`);
    printLine(io, `removed resource ${uri}`);
  });
}

async function createCredential(io: CliIo, input: string, opts: { json?: boolean }): Promise<void> {
  const uri = canonical(input);
  await withDatabase(io, ({ db }) => {
    const resource = createResourceRepository(db).findByUri(uri);
    if (!resource) throw new CliError(`no resource ${uri}`);
    // Shown once: only a hash is stored.
    const { id, secret } = createResourceCredentialRepository(db).create(resource.id, { replace: true });
    if (opts.json) return printJson(io, { resource: uri, client_id: id, client_secret: secret });
    printLine(io, `credential for ${uri} (shown once; any earlier credential no longer works)`);
    printLine(io, `client_id:     ${id}`);
    printLine(io, `client_secret: ${secret}`);
  });
}
