# syntax=docker/dockerfile:1
#
# One Dockerfile for the five services and the migration step: one target each, all from one build.
#   docker build --target gateway -t vibe-architect/gateway .
# Targets: gateway, orchestrator, provisioner, drift-sentinel, realtime-bridge, migrate (docker-compose.yml
# builds them all). Every image runs as the unprivileged `node` user (uid 1000) under tini.

ARG NODE_IMAGE=node:24-bookworm-slim

# ---- build: install everything, compile, then drop the dev dependencies --------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app

# The manifests alone first, so that the dependency layer is rebuilt only when one of them changes.
# Every workspace's package.json is listed (a test checks this list against the workspaces).
COPY package.json package-lock.json ./
COPY libs/contracts/package.json libs/contracts/
COPY libs/platform/package.json libs/platform/
COPY libs/planning/package.json libs/planning/
COPY services/gateway/package.json services/gateway/
COPY services/orchestrator/package.json services/orchestrator/
COPY services/provisioner/package.json services/provisioner/
COPY services/drift-sentinel/package.json services/drift-sentinel/
COPY services/realtime-bridge/package.json services/realtime-bridge/
COPY tools/cli/package.json tools/cli/
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund

COPY tsconfig.base.json tsconfig.build.json ./
COPY libs libs
COPY services services
COPY tools tools
COPY db db
RUN npx tsc -b tsconfig.build.json \
 && npm prune --omit=dev --no-audit --no-fund \
 && find libs services tools -name node_modules -prune -o -type d \( -name src -o -name test \) -prune -exec rm -rf {} + \
 && find . -name '*.tsbuildinfo' -not -path './node_modules/*' -delete

# ---- runtime: the compiled workspaces and production dependencies, nothing else -------------------------
FROM ${NODE_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
# V8's heap sizes, as tools/cli/src/stack.ts starts the services locally (the reason is there): each service
# stays under 200 MB RSS instead of letting garbage grow the heap.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    NODE_OPTIONS="--max-semi-space-size=8 --max-old-space-size=128"
WORKDIR /app
# Owned by root and read-only to the service user: the code cannot be changed by the process running it.
COPY --from=build /app /app
USER node
ENTRYPOINT ["/usr/bin/tini", "--"]

FROM runtime AS gateway
ENV PORT=3000
EXPOSE 3000
CMD ["node", "services/gateway/dist/main.js"]

FROM runtime AS orchestrator
ENV PORT=3001
EXPOSE 3001
CMD ["node", "services/orchestrator/dist/main.js"]

FROM runtime AS provisioner
ENV PORT=3002
EXPOSE 3002
CMD ["node", "services/provisioner/dist/main.js"]

FROM runtime AS drift-sentinel
ENV PORT=3003
EXPOSE 3003
CMD ["node", "services/drift-sentinel/dist/main.js"]

FROM runtime AS realtime-bridge
# A larger young generation for the projector (tools/cli/src/stack.ts, serviceV8Flags, says why).
ENV PORT=3004 \
    NODE_OPTIONS="--max-semi-space-size=16 --max-old-space-size=128"
EXPOSE 3004
CMD ["node", "services/realtime-bridge/dist/main.js"]

# Control-plane migrations (idempotent, safe to run in parallel): a one-shot step before the services.
FROM runtime AS migrate
CMD ["node", "libs/platform/dist/migrate-cli.js"]
