# token-sidecar container image.
#
#   docker build -t token-sidecar:0.1.0 \
#     --build-arg VERSION=0.1.0 --build-arg REVISION="$(git rev-parse HEAD)" \
#     --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" .
#
# Three stages on one pinned base: `build` compiles TypeScript with the dev dependencies,
# `deps` installs the production dependencies only, `runtime` holds dist/ + those and nothing else
# (no npm cache, no sources, no compiler). For reproducible builds, pin the base by digest too
# (node:26-trixie-slim@sha256:...) in your CI. Node 26 is the newest LTS line; Debian 13 (trixie)
# the supported Debian release under it.

FROM node:26-trixie-slim AS base
WORKDIR /app

# --- build: dev dependencies + tsc -> dist/ ----------------------------------------------------
FROM base AS build
COPY package.json package-lock.json ./
# --ignore-scripts: nothing in the tree needs an install hook, and none should run at build time.
# --omit=optional: the pinned Node binaries (node-linux-*) are for machines without Node 26; the
# image has it.
# esbuild (the bundler) ships its binary as an optional, per-platform package: install just that
# one, for this machine's architecture, at the version the lockfile pins.
RUN npm ci --ignore-scripts --omit=optional --no-audit --no-fund \
 && npm install --no-save --ignore-scripts --omit=optional --no-audit --no-fund \
      "@esbuild/linux-$(node -p process.arch)@$(node -p "require('esbuild/package.json').version")"
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/bundle.mjs scripts/undici-core.mjs scripts/prom-client-core.mjs ./scripts/
COPY src ./src
RUN npm run build

# --- deps: production dependencies only ---------------------------------------------------------
FROM base AS deps
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund && npm cache clean --force

# --- runtime --------------------------------------------------------------------------------------
FROM base AS runtime

ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown

LABEL org.opencontainers.image.title="token-sidecar" \
      org.opencontainers.image.description="Outbound-auth sidecar: fetches, caches, refreshes and injects OAuth tokens for Covver, Cobee, Petje.af and Light" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="docker.io/library/node:26-trixie-slim" \
      org.opencontainers.image.documentation="https://github.com/token-sidecar/token-sidecar/tree/main/helm/token-sidecar" \
      org.opencontainers.image.source="https://github.com/token-sidecar/token-sidecar"

# A named account for uid/gid 10001, so os.userInfo() and friends work; no home, no shell.
RUN groupadd --system --gid 10001 tokensidecar \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin tokensidecar

# NODE_ENV=production for the libraries that read it. HOME/TMPDIR point at /tmp, the only writable
# path (an emptyDir in Kubernetes): the image runs with a read-only root filesystem.
# No NODE_OPTIONS: V8's own heap sizing follows the container's memory limit, and after the hot
# path stopped allocating per request what Pool.stream did, capping the young generation
# (--max-semi-space-size) cost tail latency under load for little peak memory. bench/semi-space.mjs
# and bench/README.md ("V8 heap settings") are the measurement.
ENV NODE_ENV=production \
    HOME=/tmp \
    TMPDIR=/tmp

# package.json is needed at run time: its "type": "module" makes dist/*.js ES modules.
COPY --chown=0:0 package.json ./
COPY --from=deps --chown=0:0 /app/node_modules ./node_modules
COPY --from=build --chown=0:0 /app/dist ./dist

# Files stay owned by root and read-only to the runtime user; it only reads them.
USER 10001:10001

# 8080: the proxy (binds 127.0.0.1 by default: the app reaches it on the pod's loopback).
# 9464: the admin listener (/metrics, /healthz, /readyz).
EXPOSE 8080 9464

# No tini, no shell: node runs as PID 1 in exec form, so SIGTERM reaches it directly. PID 1 gets
# no default signal actions, which is fine because the sidecar installs its own SIGTERM/SIGINT
# handlers (graceful drain); it spawns no children, so there are no zombies to reap.
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["--config", "/etc/token-sidecar/config.yaml"]
