#!/usr/bin/env node
// A small MCP agent for the terminal, built on the official MCP TypeScript SDK (v1 client). Given
// the MCP server's URL (the resource proxy's), it runs the whole OAuth flow and one tool call,
// printing each step: discovery (RFC 9728, RFC 8414), registration (RFC 7591) or a Client ID
// Metadata Document, the browser sign-in with PKCE, the redirect to a loopback port (RFC 8252),
// the tokens (never printed), the tool list and the call.
//
//   node examples/agent/agent.mjs http://127.0.0.1:8080/mcp --tool whoami
import { parseArgs } from 'node:util';
import { auth, UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { printable, startLoopback } from './loopback.mjs';
import { ExampleAgentOAuth } from './oauth_provider.mjs';

const USAGE = `Usage: node examples/agent/agent.mjs MCP_URL [options]

Connects to the MCP server at MCP_URL (for example the resource proxy, http://127.0.0.1:8080/mcp),
signs in through your browser, lists the tools and calls one.

Options:
  --tool NAME                  the tool to call (default: the first read-only tool that needs no arguments)
  --args JSON                  the tool's arguments as a JSON object (default: {})
  --scope "S1 S2"              ask for these scopes up front (default: what the server's 401 names)
  --client-metadata-url URL    use this https Client ID Metadata Document as client_id
                               instead of registering (when the server supports it)
  --port N                     loopback port for the browser's redirect (default: any free port)
  --no-browser                 print the sign-in address without trying to open a browser
  --timeout SECONDS            how long to wait for the browser (default: 300)
  -h, --help                   this text
`;

const say = (line) => process.stdout.write(`${line}\n`);

function parse(argv) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      tool: { type: 'string' },
      args: { type: 'string', default: '{}' },
      scope: { type: 'string' },
      'client-metadata-url': { type: 'string' },
      port: { type: 'string', default: '0' },
      'no-browser': { type: 'boolean', default: false },
      timeout: { type: 'string', default: '300' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return { help: true };
  if (positionals.length !== 1) throw new UsageError('give exactly one MCP_URL');
  let url;
  try {
    url = new URL(positionals[0]);
  } catch {
    throw new UsageError(`not a URL: ${printable(positionals[0])}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UsageError('MCP_URL must be http(s)');
  let args;
  try {
    args = JSON.parse(values.args);
  } catch {
    throw new UsageError('--args must be JSON');
  }
  if (args === null || typeof args !== 'object' || Array.isArray(args))
    throw new UsageError('--args must be a JSON object');
  const port = Number(values.port);
  const timeout = Number(values.timeout);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError('--port must be 0-65535');
  if (!Number.isFinite(timeout) || timeout <= 0) throw new UsageError('--timeout must be a positive number');
  return {
    url,
    tool: values.tool,
    args,
    scope: values.scope,
    clientMetadataUrl: values['client-metadata-url'],
    port,
    openBrowser: !values['no-browser'],
    timeoutMs: timeout * 1000,
  };
}

class UsageError extends Error {}

/** Every HTTP exchange in one line: method, address without query, JSON-RPC method, status. */
function tracingFetch(seen) {
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
    const res = await fetch(input, init);
    say(`  ${method} ${url.origin}${url.pathname}${rpcMethods(init?.body)} -> ${res.status}`);
    const challenge = res.headers.get('www-authenticate');
    if (res.status === 403 && challenge) seen.challengedScope = /scope="([^"]*)"/.exec(challenge)?.[1];
    return res;
  };
}

function rpcMethods(body) {
  if (typeof body !== 'string' || (!body.startsWith('{') && !body.startsWith('['))) return '';
  try {
    const parsed = JSON.parse(body);
    const methods = (Array.isArray(parsed) ? parsed : [parsed]).map((m) => m?.method).filter(Boolean);
    return methods.length ? ` (${methods.join(', ')})` : '';
  } catch {
    return '';
  }
}

async function connect(opts, oauth, fetchFn) {
  const open = async () => {
    const client = new Client({ name: 'mcp-oauth-example-agent', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(opts.url, { authProvider: oauth, fetch: fetchFn });
    await client.connect(transport);
    return client;
  };
  if (opts.scope) {
    // Ask for the scopes named on the command line before the first MCP request.
    say(`Sign-in: asking for "${opts.scope}"`);
    if ((await auth(oauth, { serverUrl: opts.url, scope: opts.scope, fetchFn })) === 'REDIRECT') {
      const code = await oauth.pendingCode;
      say('Redirect: the browser brought back an authorization code');
      await auth(oauth, { serverUrl: opts.url, authorizationCode: code, fetchFn });
    }
    return open();
  }
  try {
    return await open();
  } catch (err) {
    if (!(err instanceof UnauthorizedError) || !oauth.pendingCode) throw err;
  }
  const code = await oauth.pendingCode;
  say('Redirect: the browser brought back an authorization code');
  await auth(oauth, { serverUrl: opts.url, authorizationCode: code, fetchFn });
  return open();
}

function pickTool(tools, wanted) {
  if (wanted) return tools.find((t) => t.name === wanted);
  return tools.find((t) => t.annotations?.readOnlyHint === true && !(t.inputSchema?.required?.length > 0));
}

function explain(err, opts, seen) {
  const message = err instanceof Error ? err.message : String(err);
  const mismatch = /Protected resource (\S+) does not match expected (\S+)/.exec(message);
  if (mismatch) {
    return (
      `the MCP server says its address is ${mismatch[1]}, but you connected to ${opts.url.href}.\n` +
      'Tokens are bound to the exact address the server declares (RFC 8707), and localhost and\n' +
      `127.0.0.1 are different addresses to OAuth: run the agent with ${mismatch[1]}.`
    );
  }
  if (err instanceof StreamableHTTPError && err.code === 403) {
    const scope = seen.challengedScope ?? 'the scopes the tool needs';
    return `this call needs more than this sign-in allowed; run again with --scope "${scope}"`;
  }
  return printable(message);
}

async function main() {
  let opts;
  try {
    opts = parse(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    say(USAGE);
    return 0;
  }
  const seen = {};
  const loopback = await startLoopback({ port: opts.port, log: say });
  const oauth = new ExampleAgentOAuth({
    loopback,
    clientMetadataUrl: opts.clientMetadataUrl,
    openBrowser: opts.openBrowser,
    timeoutMs: opts.timeoutMs,
    say,
  });
  let client;
  try {
    say(`MCP server: ${opts.url.href}`);
    say(`Redirects come back to: ${loopback.redirectUrl}`);
    client = await connect(opts, oauth, tracingFetch(seen));
    say(`Connected to ${client.getServerVersion()?.name ?? 'the MCP server'}`);
    const { tools } = await client.listTools();
    const marked = tools.map((t) => (t.annotations?.readOnlyHint === true ? `${t.name} (read-only)` : t.name));
    say(`Tools: ${marked.join(', ') || 'none'}`);
    const tool = pickTool(tools, opts.tool);
    if (!tool) {
      say(
        opts.tool ? `No tool named ${printable(opts.tool)}.` : 'No read-only tool without arguments: pass --tool NAME.',
      );
      return opts.tool ? 1 : 0;
    }
    say(`Calling ${tool.name} ${JSON.stringify(opts.args)}`);
    const result = await client.callTool({ name: tool.name, arguments: opts.args });
    say(result.isError ? 'Result (the tool reported an error):' : 'Result:');
    for (const part of result.content ?? []) say(part.type === 'text' ? `  ${part.text}` : `  [${part.type}]`);
    return result.isError ? 1 : 0;
  } catch (err) {
    process.stderr.write(`Failed: ${explain(err, opts, seen)}\n`);
    return 1;
  } finally {
    await client?.close().catch(() => {});
    await loopback.close();
  }
}

process.exitCode = await main();
