# The rollgate worker (and the demo service) as an image.
FROM node:20-bookworm-slim
# Releases read git change sets.
RUN apt-get update && apt-get install -y --no-install-recommends git ca-certificates && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY bin ./bin
COPY src ./src
COPY demo ./demo
COPY scripts/bundle-workflows.ts ./scripts/
COPY tsconfig.json ./
# The workflow bundle is built once here, not at every worker start.
RUN node --import tsx scripts/bundle-workflows.ts dist/workflow-bundle.js
ENV NODE_ENV=production ROLLGATE_WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js
USER node
EXPOSE 9464
CMD ["node", "bin/rollgate.js", "worker"]
