# syntax=docker/dockerfile:1
# mcp-oauth-server: OAuth 2.1 authorization server for MCP agents.
# Runs as the image's unprivileged `node` user; all state (SQLite database, signing keys) lives in
# /data. Serve it only behind a TLS-terminating reverse proxy (see docker-compose.yml).

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
USER node
VOLUME /data
EXPOSE 4000
CMD ["node", "dist/src/main.js", "serve"]
