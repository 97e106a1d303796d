import { closeSync, openSync, writeSync } from 'node:fs';
import type { Command } from 'commander';
import { DEFAULT_LOCALE, LOCALES } from '../i18n/catalogue.js';
import { isLoopbackHost } from '../lib/loopback.js';
import { canonicalResource } from '../lib/resource_uri.js';
import { DEFAULT_READ_SCOPE, DEFAULT_WRITE_SCOPE, isScopeToken, OIDC_SCOPES } from '../lib/scopes.js';
import { createResourceCredentialRepository } from '../storage/resource_credentials.js';
import {
  createResourceRepository,
  type Resource,
  type ResourceScope,
  UnknownScopeError,
} from '../storage/resources.js';
import { withDatabase, withNewDatabase } from './database.js';
import { CliError, type CliIo, formatTime, printJson, printLine, printTable, safe } from './io.js';
import { registerLabelCommand } from './labels.js';

export interface ScopeOptions {
  scope: string[];
  defaultScope: string[];
  writeScope: string[];
}

type AddOptions = ScopeOptions & { name?: string; json?: boolean } & Record<string, unknown>;

/** The page languages besides English: each gets a --description-<lang> option. */
const OTHER_LANGS = LOCALES.filter((l) => l !== DEFAULT_LOCALE);
const descriptionKey = (lang: string) => `description${lang.charAt(0).toUpperCase()}${lang.slice(1)}`;

const DEFAULT_SCOPES = [
  { scope: DEFAULT_READ_SCOPE, description: 'Read data and list tools' },
  { scope: DEFAULT_WRITE_SCOPE, description: 'Change data and call tools that write' },
];

const CONTROL = /\p{Cc}/u;

const quoted = (value: string) => safe(JSON.stringify(value));

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function registerResourceCommands(program: Command, io: CliIo): void {
  const resources = program.command('resources').description('manage the MCP servers that may receive tokens');
  const add = resources
    .command('add')
    .description('register an MCP server by its resource URI (RFC 8707); stored in canonical form')
    .argument('<uri>', 'the URL agents connect to, e.g. https://mcp.example.com/mcp (the token audience)')
    // Checked in addResource, not by commander: commander reports a missing mandatory option
    // before a missing argument, so "resources add" alone would ask for --name, not the URI.
    .option('--name <name>', 'name shown to users on the consent page (required)')
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
    .option('--json', 'print the resource as JSON');
  for (const lang of OTHER_LANGS) {
    add.option(
      `--description-${lang} <scope=description>`,
      `a scope's description in ${lang}, shown to readers of that language (repeatable)`,
      collect,
      [],
    );
  }
  add.action((uri: string, opts: AddOptions) => addResource(io, uri, opts));
  resources
    .command('describe')
    .description("set scope descriptions in another language for a registered MCP server's consent page")
    .argument('<uri>', 'the resource URI given to resources add')
    .requiredOption('--lang <lang>', `the language: ${OTHER_LANGS.join(', ')}`)
    .requiredOption(
      '--scope <scope=description>',
      'a scope and its description in that language (repeatable)',
      collect,
      [],
    )
    .action((uri: string, opts: { lang: string; scope: string[] }) => describeResource(io, uri, opts));
  resources
    .command('list')
    .description('list registered MCP servers and their scopes')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => listResources(io, opts));
  resources
    .command('remove')
    .description('unregister an MCP server; agents can no longer get tokens for it')
    .argument('<uri>', 'the resource URI given to resources add')
    .action((uri: string) => removeResource(io, uri));
  registerLabelCommand(resources, io);
  resources
    .command('credential')
    .description(
      'create the credential a resource server (such as mcp-oauth proxy) uses for /introspect and the revocation feed; replaces any earlier one',
    )
    .argument('<uri>', 'the resource URI given to resources add')
    .option(
      '--secret-file <path>',
      'write the secret to this new file (mode 0600) instead of printing it, for MCP_PROXY_FEED_CLIENT_SECRET_FILE',
    )
    .option('--json', 'print JSON')
    .action((uri: string, opts: { json?: boolean; secretFile?: string }) => createCredential(io, uri, opts));
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

/** --description-<lang> options: per scope, its descriptions by language; each scope must be one offered. */
function translatedDescriptions(
  opts: Record<string, unknown>,
  names: ReadonlySet<string>,
): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  for (const lang of OTHER_LANGS) {
    const given = opts[descriptionKey(lang)];
    if (!Array.isArray(given)) continue;
    for (const spec of given as string[]) {
      const { scope, description } = parseDescription(`--description-${lang}`, spec);
      if (!names.has(scope))
        throw new CliError(`--description-${lang} ${quoted(scope)} is not one of the resource's scopes`);
      const entry = out.get(scope) ?? {};
      if (entry[lang] !== undefined) throw new CliError(`--description-${lang} gives scope ${scope} twice`);
      entry[lang] = description;
      out.set(scope, entry);
    }
  }
  return out;
}

/** "scope=text" for a description in another language: both parts required, text 1-500 characters. */
function parseDescription(flag: string, spec: string): { scope: string; description: string } {
  const at = spec.indexOf('=');
  const scope = at < 0 ? spec : spec.slice(0, at);
  const description = at < 0 ? '' : spec.slice(at + 1).trim();
  if (!isScopeToken(scope)) throw new CliError(`${flag} ${quoted(scope)} is not a valid scope name (RFC 6749 §3.3)`);
  if (description === '' || description.length > 500 || CONTROL.test(description)) {
    throw new CliError(
      `${flag} needs 1-500 characters without control characters after the scope: ${flag} "${scope}=…"`,
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
  const translated = translatedDescriptions(opts as ScopeOptions & Record<string, unknown>, names);
  const scopes = given.map(({ scope, description }): ResourceScope => {
    const isWrite = scope.endsWith(':write') || opts.writeScope.includes(scope);
    const isDefault = opts.defaultScope.length > 0 ? opts.defaultScope.includes(scope) : !isWrite;
    const descriptions = translated.get(scope);
    return descriptions
      ? { scope, description, isDefault, isWrite, descriptions }
      : { scope, description, isDefault, isWrite };
  });
  // An agent that asks for no scope must still get one (docs/pitfalls.md#requests-with-no-scope).
  if (!scopes.some((s) => s.isDefault))
    throw new CliError('the resource needs a default scope: name one with --default-scope');
  return scopes;
}

function resourceJson(resource: Resource) {
  return { uri: resource.uri, name: resource.name, createdAt: resource.createdAt, scopes: resource.scopes };
}

function printScopes(io: CliIo, scopes: ResourceScope[]): void {
  const yesNo = (b: boolean) => (b ? 'yes' : 'no');
  // A column per other language only when some scope has a description in it.
  const langs = OTHER_LANGS.filter((l) => scopes.some((s) => s.descriptions?.[l] !== undefined));
  printTable(
    io,
    ['SCOPE', 'DEFAULT', 'WRITE', 'DESCRIPTION', ...langs.map((l) => `DESCRIPTION (${l.toUpperCase()})`)],
    scopes.map((s) => [
      s.scope,
      yesNo(s.isDefault),
      yesNo(s.isWrite),
      s.description,
      ...langs.map((l) => s.descriptions?.[l] ?? ''),
    ]),
  );
}

/** Plain http beyond this machine: tokens for it cross the network readable and replayable. */
function plainHttpWarning(uri: string): string | undefined {
  const url = new URL(uri);
  if (url.protocol !== 'http:' || isLoopbackHost(url.hostname)) return undefined;
  return `warning: ${uri} is plain http on a host other than this machine: anyone on the network between agents and it can read and replay their access tokens; use https (for example behind a TLS reverse proxy, docs/proxy.md)`;
}

async function addResource(io: CliIo, input: string, opts: AddOptions): Promise<void> {
  const uri = canonical(input);
  if (opts.name === undefined) throw new CliError("required option '--name <name>' not specified");
  const name = opts.name.trim();
  if (name === '' || name.length > 100 || CONTROL.test(name)) {
    throw new CliError('--name must be 1-100 characters without control characters');
  }
  const scopes = buildScopes(opts);
  await withNewDatabase(io, async ({ sql }) => {
    const resource = await createResourceRepository(sql).create(uri, name, scopes);
    const warning = plainHttpWarning(resource.uri);
    if (warning) io.stderr.write(`mcp-oauth: ${safe(warning)}\n`);
    if (opts.json) return printJson(io, resourceJson(resource));
    const note = uri === input ? '' : ` (canonical form of ${quoted(input)})`;
    printLine(io, `added resource ${resource.uri}${note}`);
    printScopes(io, resource.scopes);
  });
}

async function listResources(io: CliIo, opts: { json?: boolean }): Promise<void> {
  await withDatabase(io, async ({ sql }) => {
    const resources = await createResourceRepository(sql).list();
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

async function describeResource(io: CliIo, input: string, opts: { lang: string; scope: string[] }): Promise<void> {
  const uri = canonical(input);
  const lang = opts.lang.trim().toLowerCase();
  if (!(OTHER_LANGS as readonly string[]).includes(lang)) {
    throw new CliError(
      `--lang must be one of ${OTHER_LANGS.join(', ')} (the English description is the one given with --scope)`,
    );
  }
  const seen = new Set<string>();
  const entries = opts.scope.map((spec) => {
    const entry = parseDescription('--scope', spec);
    if (seen.has(entry.scope)) throw new CliError(`scope ${entry.scope} is given twice`);
    seen.add(entry.scope);
    return entry;
  });
  if (entries.length === 0) throw new CliError('give at least one --scope "scope=description"');
  await withDatabase(io, async ({ sql }) => {
    let resource: Resource | undefined;
    try {
      resource = await createResourceRepository(sql).describe(uri, lang, entries);
    } catch (err) {
      if (err instanceof UnknownScopeError) throw new CliError(err.message);
      throw err;
    }
    if (!resource) throw new CliError(`no resource ${uri}`);
    printLine(io, `updated ${lang} descriptions of ${resource.uri}`);
    printScopes(io, resource.scopes);
  });
}

async function removeResource(io: CliIo, input: string): Promise<void> {
  const uri = canonical(input);
  await withDatabase(io, async ({ sql }) => {
    if (!(await createResourceRepository(sql).remove(uri))) throw new CliError(`no resource ${uri}`);
    printLine(io, `removed resource ${uri}`);
  });
}

async function createCredential(
  io: CliIo,
  input: string,
  opts: { json?: boolean; secretFile?: string },
): Promise<void> {
  const uri = canonical(input);
  await withDatabase(io, async ({ sql }) => {
    const resource = await createResourceRepository(sql).findByUri(uri);
    if (!resource) throw new CliError(`no resource ${uri}`);
    // The file is created (never overwritten) before the credential, so a bad path changes nothing.
    let fd: number | undefined;
    if (opts.secretFile !== undefined) {
      try {
        fd = openSync(opts.secretFile, 'wx', 0o600);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new CliError(
          code === 'EEXIST'
            ? `${opts.secretFile} already exists; choose a new file`
            : `cannot create ${opts.secretFile} (${code ?? 'error'})`,
        );
      }
    }
    // Shown once (or written once): only a hash is stored.
    const { id, secret } = await createResourceCredentialRepository(sql).create(resource.id, { replace: true });
    if (fd !== undefined) {
      writeSync(fd, secret);
      closeSync(fd);
      if (opts.json) return printJson(io, { resource: uri, client_id: id, client_secret_file: opts.secretFile });
      printLine(io, `credential for ${uri} (any earlier credential no longer works)`);
      printLine(io, `client_id:     ${id}`);
      printLine(io, `client_secret: written to ${opts.secretFile}`);
      return;
    }
    if (opts.json) return printJson(io, { resource: uri, client_id: id, client_secret: secret });
    printLine(io, `credential for ${uri} (shown once; any earlier credential no longer works)`);
    printLine(io, `client_id:     ${id}`);
    printLine(io, `client_secret: ${secret}`);
  });
}
