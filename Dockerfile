# Hugging Face Docker Space: the image runs as uid 1000, serves on 7860, and may only write to /app/data.
FROM oven/bun:1-slim

WORKDIR /app

# Dependencies first, from the lockfile only, so code edits reuse this layer.
COPY package.json bun.lock ./
# patches/ holds a fix to postgres.js (a write after its socket closed crashed the process).
COPY patches ./patches
RUN bun install --frozen-lockfile --production

COPY tsconfig.json bunfig.toml ./
COPY src ./src

# The official image already has a `bun` user with uid 1000; the data folder is the only writable place.
RUN mkdir -p /app/data && chown -R 1000:1000 /app/data
USER 1000

ENV NODE_ENV=production \
    PORT=7860 \
    HOST=0.0.0.0 \
    FALLBACK_DATABASE_URL=sqlite:///./data/app.db \
    BACKUP_DIR=./data/backups

EXPOSE 7860
CMD ["bun", "src/index.ts"]
