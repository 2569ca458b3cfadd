# The project image: cluster-node and the gateway (docker-compose.yml runs both from it).
#   node bin/cluster-node.js [redis.conf] [--port P ...]    a cluster node (README, "Running a node")
#   node dist/gateway/src/main.js --port P --seeds h:p,...  the gateway
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Dependencies first (cached while only sources change); the build runs below, once the sources are in.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
# The whole built tree (sources are small): runtime assets such as gateway/public come along.
COPY --from=build /app ./
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME /data
EXPOSE 7000 8080
CMD ["node", "bin/cluster-node.js", "--port", "7000", "--bind", "0.0.0.0", "--protected-mode", "no", "--dir", "/data"]
