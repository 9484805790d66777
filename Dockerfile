# proxmox-mcp container image: multi-stage, no dev dependencies, non-root (uid 1000), works with a
# read-only root filesystem (the audit log goes to the /var/lib/proxmox-mcp volume).
# CI runs the same install steps without Docker: scripts/check-runtime-install.sh.

# Node 24: the active LTS line (Node 20 reached its end of life in April 2026).
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts/bundle.mjs ./scripts/bundle.mjs
# npm ci installs the committed lock exactly and runs the "prepare" script, which compiles src/
# to dist/ and bundles the binary (dist/bin).
RUN npm ci --no-audit --no-fund

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production \
    XDG_STATE_HOME=/var/lib/proxmox-mcp
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies: ssh2 and its own (8 packages, ~4 MB). The binary is a bundle that holds
# everything else; the embedding API's packages are peer dependencies, not installed here.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force \
 && mkdir -p /var/lib/proxmox-mcp \
 && chown 1000:1000 /var/lib/proxmox-mcp
COPY --from=build /app/dist ./dist
USER 1000:1000
VOLUME ["/var/lib/proxmox-mcp"]
# stdio by default (an MCP client runs `docker run -i ...`). For the shared HTTP server run
# `run --transport http` with the settings of deploy/compose.yaml (its health check calls /health;
# there is none here because the stdio default has no port).
EXPOSE 3000
ENTRYPOINT ["node", "dist/bin/proxmox-mcp.js"]
CMD ["run"]
