# Ferry's container image: one image for the web process, the worker, the scheduler and
# the backup job (deploy/docker/entrypoint.sh picks the role; deploy/compose/ runs them
# all with PostgreSQL, Redis and Caddy). Build from the repository's root:
#   docker build -t ferry:$(python3 -c "import tomllib;print(tomllib.load(open('pyproject.toml','rb'))['project']['version'])") .

# htmx, pinned in package-lock.json, is served from static/vendor (never a CDN).
FROM node:20-bookworm-slim AS assets
WORKDIR /assets
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund --omit=dev

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/venv/bin:$PATH \
    FERRY_INSTANCE_DIR=/var/lib/ferry \
    FERRY_BACKUP_DIR=/backups
# pg_dump and pg_restore for `flask backup` (Debian 12's are PostgreSQL 15's, as the
# compose file's database).
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# The exact versions and hashes of requirements.lock, then Ferry itself without
# dependencies (its source stays in /app: templates and static files are read there).
COPY requirements.lock ./
RUN python -m venv /venv \
    && /venv/bin/pip install --require-hashes -r requirements.lock
COPY pyproject.toml README.md CHANGELOG.md ./
COPY app.py config.py models.py security.py version.py ./
COPY admin ./admin
COPY blueprints ./blueprints
COPY connectors ./connectors
COPY jobs ./jobs
COPY migrations ./migrations
COPY sandbox ./sandbox
COPY sync ./sync
COPY templates ./templates
COPY static ./static
COPY deploy ./deploy
COPY --from=assets /assets/node_modules/htmx.org/dist/htmx.min.js ./static/vendor/htmx.min.js
RUN /venv/bin/pip install --no-deps --no-build-isolation -e . \
    && groupadd --system --gid 10001 ferry \
    && useradd --system --uid 10001 --gid ferry --home-dir /var/lib/ferry --no-create-home ferry \
    && install -d -m 700 -o ferry -g ferry /var/lib/ferry /backups

USER ferry
EXPOSE 8000
VOLUME ["/var/lib/ferry", "/backups"]
ENTRYPOINT ["/app/deploy/docker/entrypoint.sh"]
CMD ["web"]
