# Latchkey: the bundled server with production dependencies only, as an unprivileged user.
# docs/deployment.md explains the settings; compose.yaml runs two instances behind a proxy.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only: the server and the CLI run from their bundles (dist/), which need
# neither esbuild nor tsx (`npm start` finds them up to date and starts at once).
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY views ./views
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# exec form: SIGTERM reaches node itself, which drains and exits 0 (docs/deployment.md).
CMD ["node", "dist/server/index.js"]
