# syntax=docker/dockerfile:1
# The web portal: install, `next build` with `output: "standalone"`, then a small runtime stage that
# runs the self-contained server (.next/standalone/server.js) as the non-root `node` user.
# Build from the repository root:  docker build -f infra/web.Dockerfile -t servicedesk-web .
FROM node:22-bookworm-slim AS deps
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM node:22-bookworm-slim AS build
WORKDIR /web
ENV NEXT_TELEMETRY_DISABLED=1
COPY --from=deps /web/node_modules ./node_modules
COPY web/ ./
# public/ may be empty (git keeps no empty folders); the runtime stage copies it either way.
RUN mkdir -p public && npm run build

FROM node:22-bookworm-slim AS runtime
WORKDIR /app
ENV NODE_ENV=production \
    NEXT_TELEMETRY_DISABLED=1 \
    PORT=3000 \
    HOSTNAME=0.0.0.0
COPY --from=build --chown=node:node /web/.next/standalone ./
COPY --from=build --chown=node:node /web/.next/static ./.next/static
COPY --from=build --chown=node:node /web/public ./public
USER node
EXPOSE 3000
CMD ["node", "server.js"]
