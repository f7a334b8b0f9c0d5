# One image per service: docker build --target rng|hasher|worker|webui .
#
# The base is the official Node 24 LTS image on Alpine: about 55 MB compressed against ~75 MB
# for -slim (Debian), and each service is one self-contained bundle, so glibc brings nothing.
# DNS: musl resolves names with no nscd or search-domain surprises and, since musl 1.2.4,
# retries over TCP when a large dnsrr answer is truncated; the worker reads every address
# a name resolves to and rotates over them itself, so the resolver's ordering (glibc sorts,
# musl does not) makes no difference. Override with --build-arg NODE_IMAGE=... (CI here uses a
# local Debian-based stand-in: the final stages run no distro-specific command). An empty
# NODE_IMAGE also means the default: Compose v1 passes an unset build arg as "".
ARG NODE_IMAGE
FROM ${NODE_IMAGE:-node:24-alpine} AS base

FROM base AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build

FROM base AS runtime
LABEL org.opencontainers.image.url="https://container.training" \
      org.opencontainers.image.description="DockerCoins, the container.training demo app, in TypeScript" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production PORT=80
WORKDIR /app
# Port 80 as a non-root user: Docker (>= 20.10) lets unprivileged processes bind low ports
# inside a container's network namespace.
USER node
EXPOSE 80
# No curl in the image: node itself asks /healthz.
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/healthz`).then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec-form CMD: node is PID 1 (the node image's entrypoint execs it) and gets the SIGTERM of
# docker stop itself; it flushes, closes and exits 0 in about 0.1 s.
STOPSIGNAL SIGTERM

# Each final stage holds its bundle and the bundle's licence notices, not its .map file: a map
# is 4-9 MB, larger than the bundle itself, and node reads it only with --enable-source-maps,
# which makes every stack trace slower to build. Maps stay in the build stage and in dist/.
FROM runtime AS rng
LABEL org.opencontainers.image.title="dockercoins rng"
COPY --from=build /src/dist/rng.mjs /src/dist/rng.mjs.LEGAL.txt /app/
CMD ["node", "/app/rng.mjs"]

FROM runtime AS hasher
LABEL org.opencontainers.image.title="dockercoins hasher"
COPY --from=build /src/dist/hasher.mjs /src/dist/hasher.mjs.LEGAL.txt /app/
CMD ["node", "/app/hasher.mjs"]

FROM runtime AS worker
LABEL org.opencontainers.image.title="dockercoins worker"
COPY --from=build /src/dist/worker.mjs /src/dist/worker.mjs.LEGAL.txt /app/
CMD ["node", "/app/worker.mjs"]

FROM runtime AS webui
LABEL org.opencontainers.image.title="dockercoins webui"
COPY --from=build /src/dist/webui.mjs /src/dist/webui.mjs.LEGAL.txt /app/
COPY --from=build /src/dist/public /app/public
CMD ["node", "/app/webui.mjs"]
