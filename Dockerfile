# syntax=docker/dockerfile:1
# mcp-oauth-server: OAuth 2.1 authorization server for MCP agents.
# Runs as the image's unprivileged `node` user (uid 1000); all state (SQLite database, signing keys)
# lives in the /data volume. Serve it only behind a TLS-terminating reverse proxy (see
# docker-compose.yml). A bind-mounted /data must be writable by uid 1000.
# Back up while it runs:  docker compose exec auth node dist/src/main.js backup /data/backup.sqlite
# Metrics: set MCP_OAUTH_METRICS_TOKEN_FILE (e.g. a Docker secret under /run/secrets) to serve
# /metrics to a Prometheus scraper holding that bearer token; without it /metrics does not exist.

ARG NODE_IMAGE=node:22-bookworm-slim

# ---- build: all dependencies, compile TypeScript ------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Toolchain for native addons (better-sqlite3) in case no prebuilt binary can be fetched.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

# ---- prod-deps: production dependencies only ----------------------------------------------------
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force

# ---- runtime ------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    MCP_OAUTH_HOST=0.0.0.0 \
    MCP_OAUTH_TRUST_PROXY=true \
    MCP_OAUTH_DATA_DIR=/data
WORKDIR /app
RUN mkdir -p /data && chown node:node /data && chmod 0700 /data
# Application files stay owned by root: the server can read but not modify its own code.
COPY package.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY migrations ./migrations
COPY views ./views
COPY locales ./locales
USER node
VOLUME /data
EXPOSE 4000
# Ready = database writable, signing key loaded, migrations current (GET /readyz answers 200).
# Node's own fetch: the slim image has no curl. The port follows MCP_OAUTH_PORT when it is set.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.MCP_OAUTH_PORT||4000)+'/readyz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/src/main.js", "serve"]
