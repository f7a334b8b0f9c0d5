# One image per service: docker build --target rng|hasher|worker|webui .
#
# The base is the official Node 24 LTS image on Debian bookworm (slim): the distribution, libc
# (glibc) and resolver that CI tests, through the local stand-in of ../shared/tools/
# offline-images.sh. Another base through --build-arg NODE_IMAGE=...: Alpine works (apk
# installs curl and setpriv below) but is not tested here; distroless cannot build this file (no
# shell for the entrypoint, no npm for the build stage). An empty NODE_IMAGE also means the
# default: Compose v1 passes an unset build arg as "".
ARG NODE_IMAGE
FROM ${NODE_IMAGE:-node:24-bookworm-slim} AS base

FROM base AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build

FROM base AS runtime
# curl, for the workshop's health check (`curl -f http://localhost/`, its health-check chapter's
# stack file) and the ones our stack and Compose files declare: a probe that starts in
# milliseconds, where `node -e` took 0.25 s of CPU and seconds on a busy node.
# bind-setpriv: a copy of util-linux's setpriv holding CAP_NET_BIND_SERVICE as a file capability,
# for docker/entrypoint.sh (port 80 where the runtime keeps ip_unprivileged_port_start=1024). Not
# on node itself: exec of a binary with a file capability fails (EPERM) in a container whose
# bounding set lacks it (--cap-drop ALL), and setcap would copy the whole node binary into a layer.
RUN if command -v apt-get >/dev/null; then \
      apt-get update && apt-get install -y --no-install-recommends curl libcap2-bin \
      && install -D /usr/bin/setpriv /usr/local/lib/dockercoins/bind-setpriv \
      && setcap cap_net_bind_service=+p /usr/local/lib/dockercoins/bind-setpriv \
      && apt-get purge -y libcap2-bin && rm -rf /var/lib/apt/lists/*; \
    else apk add --no-cache curl setpriv libcap-utils \
      && install -D /usr/bin/setpriv /usr/local/lib/dockercoins/bind-setpriv \
      && setcap cap_net_bind_service=+p /usr/local/lib/dockercoins/bind-setpriv; fi
COPY docker/entrypoint.sh /usr/local/bin/dockercoins-entrypoint
# Build info: compose and stack files pass them (VERSION and REVISION from the environment).
ARG VERSION
ARG REVISION
LABEL org.opencontainers.image.url="https://container.training" \
      org.opencontainers.image.description="DockerCoins, the container.training demo app, in TypeScript" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION:-unknown}" \
      org.opencontainers.image.revision="${REVISION:-unknown}"
# The port every service listens on. `--build-arg PORT=81` builds the health-check chapter's
# broken hasher (the workshop's `sed -i "s/80/81/"` of its source): it runs, but not on 80.
ARG PORT=80
ENV NODE_ENV=production PORT=${PORT} \
    DOCKERCOINS_VERSION=${VERSION:-unknown} DOCKERCOINS_REVISION=${REVISION:-unknown}
# Idle memory (bench/README.md, "Images", against Node's defaults): a young generation of 1 MB
# semi-spaces instead of up to 16, and two glibc malloc arenas instead of one per thread. More
# frequent scavenges cost next to nothing at the workshop's rates (a few requests per second per
# task); override NODE_OPTIONS for a service under heavy load. worker and webui add V8 flags to
# their CMD below.
ENV NODE_OPTIONS=--max-semi-space-size=1 MALLOC_ARENA_MAX=2
WORKDIR /app
# Port 80 as a non-root user: Docker (>= 20.10) lets unprivileged processes bind low ports
# inside a container's network namespace; elsewhere the entrypoint lends node the capability.
USER node
EXPOSE 80
# No HEALTHCHECK, as in the workshop's images: in Swarm a task with one counts as started (and
# enters DNS) only after its first passing check. The stack and Compose files declare theirs.
ENTRYPOINT ["/usr/local/bin/dockercoins-entrypoint"]
# Exec-form CMD: node is PID 1 (the entrypoint execs it) and gets the SIGTERM of docker stop
# itself; it flushes, closes and exits in about 0.1 s (143, as stopped by SIGTERM; the worker 0
# when all was saved: README, "Shutdown").
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
# Idle memory (bench/README.md, "Images"): on V8's defaults the old generation keeps the garbage
# of start-up and of the work until V8's memory reducer runs (about 100 s after start), then
# fills up again, so worker and webui idled at the 45 MB limit. --optimize-for-size collects in
# smaller steps; --single-threaded-gc drops V8's GC helper threads. Not in NODE_OPTIONS: Node
# accepts neither there. The workshop's rates are unchanged (CPU in bench/README.md).
CMD ["node", "--optimize-for-size", "--single-threaded-gc", "/app/worker.mjs"]

FROM runtime AS webui
LABEL org.opencontainers.image.title="dockercoins webui"
COPY --from=build /src/dist/webui.mjs /src/dist/webui.mjs.LEGAL.txt /app/
COPY --from=build /src/dist/public /app/public
# The worker's V8 flags, for the same reason (see above).
CMD ["node", "--optimize-for-size", "--single-threaded-gc", "/app/webui.mjs"]
