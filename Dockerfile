# trailbot: one image for every role (serve --role web | worker | all).
# Node 22 runs the TypeScript sources directly (type stripping), so there is no build step:
# the first stage installs production dependencies only, the second carries them and the sources.

FROM node:22-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: no dependency needs its install script (msgpackr falls back to plain JS).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM node:22-slim AS runtime
# HOST=0.0.0.0: a container is reached through its published ports, so trailbot listens on every
# interface of it; a role that serves the API (web, all) then refuses to start without TRAILBOT_API_TOKENS.
ENV NODE_ENV=production \
    PORT=3000 \
    HOST=0.0.0.0 \
    TRAILBOT_DATA_DIR=/data
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY src ./src
COPY samples/trail ./samples/trail
# One directory a COPY: Docker copies a directory's contents, not the directory, so each keeps its path.
COPY samples/README.md ./samples/
COPY samples/licenses ./samples/licenses
RUN mkdir -p /data && chown node:node /data
# The image's unprivileged user; nothing runs as root.
USER node
VOLUME ["/data"]
EXPOSE 3000
# Every role serves /healthz on PORT.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM reaches node directly (exec form), which finishes the jobs in hand and exits.
CMD ["node", "bin/trailbot.js", "serve"]
