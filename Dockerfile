# syntax=docker/dockerfile:1.7
# One image for every role (ROLE=all|api|worker). Build: docker build -t wasm-signer .

ARG NODE_IMAGE=node:24.21.0-bookworm-slim

# --- build: all dependencies, compile TypeScript ---
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY src ./src
COPY dev ./dev
RUN npx nest build

# --- dev-stack: the local Sigstore stand-in (docker compose --profile dev); never for production ---
FROM build AS dev-stack
ENV STACK_DIR=/stack STACK_LISTEN_HOST=0.0.0.0
VOLUME /stack
EXPOSE 5550 5555 5556 5557
CMD ["node", "dist/dev/stack/main.js"]

# --- production dependencies only ---
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts

# --- runtime: non-root, no build tools, no dev code ---
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    DATA_DIR=/app/data \
    PORT=3000
WORKDIR /app
RUN groupadd --system --gid 10001 wasm-signer \
 && useradd --system --uid 10001 --gid wasm-signer --home-dir /app --shell /usr/sbin/nologin wasm-signer \
 && mkdir -p /app/data && chown wasm-signer:wasm-signer /app/data
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/package.json ./dist/package.json
COPY builders ./builders
COPY package.json ./
# The command-line client (wasm-signer --help): the same build, for pipelines that use this image.
RUN chmod +x dist/src/cli/wasm-signer.js && ln -s /app/dist/src/cli/wasm-signer.js /usr/local/bin/wasm-signer
USER wasm-signer
EXPOSE 3000
VOLUME /app/data
# Every role serves /health/live over HTTP.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/live').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/main.js"]

# --- build-worker: the runtime plus what builds need (BUILD_WORKER=only): bubblewrap (the sandbox), git
# (git sources) and a Rust toolchain with a WASI target and its linker (Debian's rust-lld is a link to
# lld-14, which the packages only recommend). bubblewrap needs unprivileged user namespaces:
# run this container with a seccomp profile that allows them (docker-compose.yml shows how). ---
FROM runtime AS build-worker
USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends bubblewrap git ca-certificates rustc cargo libstd-rust-dev-wasm32 lld-14 \
 && rm -rf /var/lib/apt/lists/*
USER wasm-signer
ENV BUILD_WORKER=only
