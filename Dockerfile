# Guichet FITN7 axe 3 — the same commands as the README's quick start, for production.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GUICHET_ENVIRONMENT=production

WORKDIR /srv/guichet
RUN useradd --create-home --uid 10001 guichet

COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY alembic ./alembic
COPY docker/entrypoint.sh ./docker/entrypoint.sh
RUN pip install -e . && mkdir -p var && chown guichet:guichet var

USER guichet
EXPOSE 8000
# Configure with GUICHET_DATABASE_URL (postgresql+asyncpg://…), GUICHET_JWT_ALGORITHM=RS256,
# GUICHET_JWT_JWKS_URL or GUICHET_JWT_JWKS_FILE, GUICHET_JWT_AUDIENCE, GUICHET_JWT_ISSUER.
# The server (docker/entrypoint.sh: `python -m app serve`) keeps idle connections alive for
# GUICHET_SERVER_KEEP_ALIVE_SECONDS (75 s: above a load balancer's 60 s idle timeout), sends no
# `server` header, and sheds load past GUICHET_MAX_IN_FLIGHT_REQUESTS with 503 problem+json.
CMD ["sh", "docker/entrypoint.sh"]
