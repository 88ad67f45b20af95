# syntax=docker/dockerfile:1
#
# sippbx container images (docs/deployment.md).
#
#   docker build -t ghcr.io/sippbx/sippbx:dev .                             # the pbx (default target)
#   docker build --target operator -t ghcr.io/sippbx/sippbx-operator:dev .  # the operator
#
# Stages: build (all dependencies, tsc) -> prod-deps (production dependencies only) -> runtime
# (tini, non-root user, production tree) -> operator | pbx. The production tree is package.json,
# package-lock.json, node_modules from `npm ci --omit=dev --ignore-scripts` and dist/ — nothing else.
# scripts/prod-tree.sh builds the same tree without Docker and test/deploy/prod-tree.test.ts starts
# it; test/deploy/dockerfile.test.ts checks this file's invariants. Change them together.

# The repo pins Node with the `node` devDependency (package.json); test/deploy checks the major matches.
ARG NODE_VERSION=24.21.0

# ---------------------------------------------------------------------------------------------------
# build: every dependency, TypeScript compiled to dist/ (pbx, operator, bench), and the native RTP relay
# (a Node-API addon, dist/native/sippbx-relay.node) compiled against this image's Node headers.
FROM node:${NODE_VERSION}-bookworm-slim AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: the only install script is the `node` devDependency's, which would download a
# second Node; here tsc runs on the image's own Node (node_modules/.bin is not on PATH).
RUN --mount=type=cache,target=/root/.npm \
    npm ci --ignore-scripts --no-audit --no-fund
# .dockerignore keeps the context to the sources tsconfig.build.json compiles.
COPY . .
RUN ./node_modules/.bin/tsc -p tsconfig.build.json \
    && REQUIRE_NATIVE=1 NODE_INCLUDE=/usr/local/include/node bash scripts/build-native.sh dist/native

# ---------------------------------------------------------------------------------------------------
# prod-deps: production dependencies only. `--omit=dev` leaves out the `node` devDependency too: the
# image's Node runs the pbx. No dependency needs an install script (opusscript ships its wasm).
FROM node:${NODE_VERSION}-bookworm-slim AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# ---------------------------------------------------------------------------------------------------
# runtime: what the pbx and the operator images share.
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ARG NODE_VERSION
ARG VERSION=0.1.0
ARG REVISION=unknown
# tini as PID 1: forwards SIGTERM to node (which then drains) and reaps zombies.
# The package managers are removed: nothing installs at run time, and they are attack surface.
# /var/lib/sippbx is the one writable directory (CDR file, webhook spool); mount a volume there.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/* \
    && rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
        /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
        /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-* \
    && groupadd --system --gid 10001 sippbx \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin sippbx \
    && mkdir -p /var/lib/sippbx \
    && chown 10001:10001 /var/lib/sippbx
ENV NODE_ENV=production
WORKDIR /app
# The production tree, owned by root and read-only to the service user. package.json is needed at
# run time: its "type": "module" makes dist/**/*.js ES modules.
COPY --from=prod-deps /app/package.json /app/package-lock.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
USER 10001:10001
ENTRYPOINT ["/usr/bin/tini", "--"]
STOPSIGNAL SIGTERM
LABEL org.opencontainers.image.title="sippbx" \
      org.opencontainers.image.description="Kubernetes-native SIP B2BUA PBX with an RTP relay" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/node:${NODE_VERSION}-bookworm-slim"

# ---------------------------------------------------------------------------------------------------
# operator: `docker build --target operator`. Reconciles SipPbx resources (docs/operator.md).
FROM runtime AS operator
LABEL org.opencontainers.image.title="sippbx-operator" \
      org.opencontainers.image.description="Operator for sippbx: reconciles SipPbx custom resources"
CMD ["node", "dist/operator/main.js"]

# ---------------------------------------------------------------------------------------------------
# pbx: the default target (last stage). Configure with SIPPBX_CONFIG=/path/to/pbx.yaml and/or
# SIPPBX_* variables (docs/configuration.md); the media port range (10000-20000/udp by default) is not
# EXPOSEd on purpose: publish it explicitly or use host networking (docs/deployment.md).
FROM runtime AS pbx
EXPOSE 5060/udp 5060/tcp 8080 9090
# No curl in slim images: node itself probes /health/live (on SIPPBX_HTTP_PORT when that is set).
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.SIPPBX_HTTP_PORT||8080)+'/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/pbx/main.js"]
