// Longer help texts, shown after commander's generated usage. Kept here so the command files stay
// about behaviour. They point at the guides in docs/ (test/cli/help_docs.test.ts checks that every
// file and section named exists). No imports: src/main.ts loads this for `mcp-oauth proxy --help`.

export const ROOT_HELP = `
Getting started (README.md walks through it to an agent's first tool call):
  mcp-oauth users add admin --admin          the first admin (the password is prompted for)
  mcp-oauth resources add https://mcp.example.com/mcp --name "Orders DB"
                                             the MCP server agents may get tokens for
  mcp-oauth serve                            then sign in at http://127.0.0.1:4000/admin

Every command reads its settings from MCP_OAUTH_* environment variables (never from options, so
no secret lands in shell history). The database is MCP_OAUTH_DATA_DIR/mcp-oauth.sqlite; unset,
that is ./data under the current directory, so run every command from the directory where the
server runs, or set it. Commands that only read or change what is there refuse a missing
database; only migrate, users add and resources add create one, and they say where.
"mcp-oauth serve --help" lists the main variables; docs/configuration.md lists all, and
docs/operating.md covers users, grants, keys, backups and upgrades.
"mcp-oauth help COMMAND" shows a command's help.
`;

export const SERVE_HELP = `
Listens on MCP_OAUTH_HOST:MCP_OAUTH_PORT (default 127.0.0.1:4000), applies pending migrations
and creates the first signing key when there is none. On a first start with no admin or no MCP
server it prints the next steps. Logs are JSON lines on stdout (pretty when stdout is a terminal).

Main environment variables:
  MCP_OAUTH_ISSUER               public https URL of this server (default http://HOST:PORT)
  MCP_OAUTH_HOST, MCP_OAUTH_PORT where to listen (a public host needs MCP_OAUTH_TRUST_PROXY=true)
  MCP_OAUTH_TRUST_PROXY          true behind a TLS-terminating reverse proxy
  MCP_OAUTH_DATA_DIR             where the SQLite database lives (default ./data, under the
                                 current directory)
  MCP_OAUTH_REGISTRATION         open, token or off: dynamic registration of agents
  MCP_OAUTH_LOG_LEVEL            fatal, error, warn, info (default), debug or silent
  MCP_OAUTH_METRICS_TOKEN[_FILE] serve Prometheus metrics at /metrics to this bearer token
  MCP_OAUTH_*_TTL                token, code and session lifetimes (docs/configuration.md)

Probes: GET /healthz (process up) and GET /readyz (database writable, signing key loaded,
migrations current) answer 200 or 503 (docs/operating.md "Health").
`;

export const PROXY_HELP = `Usage: mcp-oauth proxy

Runs the resource proxy in front of an MCP server. Configured only from the
environment (MCP_PROXY_*): docs/proxy.md explains it, docs/configuration.md
"Resource proxy" lists every variable.
`;
