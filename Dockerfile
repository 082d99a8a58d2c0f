# Guichet FITN7 axe 3 — production image (issue 12).
# Stage 1 builds a virtualenv from requirements.lock (pinned, hashed: `make lock`) and the
# project's own wheel (non-editable); stage 2 runs it as a non-root user, with nothing to build.
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
RUN python -m venv /opt/venv
COPY requirements.lock ./
RUN /opt/venv/bin/pip install --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY app ./app
RUN /opt/venv/bin/pip wheel --no-deps --wheel-dir /dist . \
 && /opt/venv/bin/pip install --no-deps /dist/*.whl


FROM python:3.11-slim AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    GUICHET_ENVIRONMENT=production \
    GUICHET_SERVER_HOST=0.0.0.0 \
    GUICHET_SERVER_PORT=8000

# Issue 24: documents' types are read from their bytes by the system's libmagic (python-magic).
RUN apt-get update && apt-get install -y --no-install-recommends libmagic1 \
 && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 guichet
WORKDIR /srv/guichet
COPY --from=build /opt/venv /opt/venv
# The migrations ship beside the installed package (app.core.migrations reads them from here).
COPY alembic.ini ./
COPY alembic ./alembic
COPY docker/entrypoint.sh ./docker/entrypoint.sh
# var/documents exists, owned by the user, so that a volume mounted there (compose.yaml's
# `documents`) starts with that owner.
RUN mkdir -p var/documents && chown -R guichet:guichet var

USER guichet
EXPOSE 8000
# Configure with GUICHET_DATABASE_URL (postgresql+asyncpg://…), GUICHET_JWT_ALGORITHM=RS256,
# GUICHET_JWT_JWKS_URL or GUICHET_JWT_JWKS_FILE, GUICHET_JWT_AUDIENCE, GUICHET_JWT_ISSUER,
# GUICHET_RATE_LIMIT_STORAGE_URL (redis://…), GUICHET_FORWARDED_ALLOW_IPS (the proxies whose
# X-Forwarded-* headers are believed). Run migrations once per release with the `migrate`
# command (compose.yaml: the `migrate` service), never in each replica.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, sys, urllib.request; url = 'http://127.0.0.1:' + os.environ.get('GUICHET_SERVER_PORT', '8000') + '/readyz'; sys.exit(0 if urllib.request.urlopen(url, timeout=4).status == 200 else 1)"]
ENTRYPOINT ["sh", "docker/entrypoint.sh"]
CMD ["serve"]
