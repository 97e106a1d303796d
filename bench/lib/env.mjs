// Settings of the authorization server under load. Per-address rate limits exist to stop password
// guessing and floods from one address; every benchmark request comes from 127.0.0.1, so they are
// raised out of the way. Any MCP_OAUTH_* variable set when `npm run bench` starts overrides these.
// Unknown MCP_OAUTH_* names are ignored by the server's config, so this list may name limits an
// older build does not have yet.
export const RATE_LIMITS_OFF = {
  // Requests per minute per address on each endpoint group; 0 means no limit.
  MCP_OAUTH_RATE_LIMIT_TOKEN: '0',
  MCP_OAUTH_RATE_LIMIT_REGISTRATION: '0',
  MCP_OAUTH_RATE_LIMIT_INTROSPECTION: '0',
  MCP_OAUTH_RATE_LIMIT_FEED: '0',
  MCP_OAUTH_RATE_LIMIT_ADMIN: '0',
  MCP_OAUTH_RATE_LIMIT_AUTHORIZE: '0',
  MCP_OAUTH_RATE_LIMIT_DEVICE: '0',
  // Scenario 7 registers 10,000 agents that never authorize; the default cap on such
  // registrations (a flood guard) would refuse most of them.
  MCP_OAUTH_MAX_UNUSED_CLIENTS: '1000000',
};

export function asEnv({ port, dataDir }) {
  const env = {
    MCP_OAUTH_HOST: '127.0.0.1',
    MCP_OAUTH_PORT: String(port),
    MCP_OAUTH_DATA_DIR: dataDir,
    // Per-request logging is not what is measured; warnings and errors still show.
    MCP_OAUTH_LOG_LEVEL: 'warn',
    // Tokens minted before a run must outlive it.
    MCP_OAUTH_ACCESS_TOKEN_TTL: '3600',
    ...RATE_LIMITS_OFF,
  };
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('MCP_OAUTH_') && value !== undefined) env[key] = value;
  }
  return env;
}
