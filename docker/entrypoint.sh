#!/bin/sh
# Container commands (Dockerfile, compose.yaml):
#   serve    (default) the API; never migrates (several replicas may start at once)
#   migrate  one-shot: wait for the database, `alembic upgrade head`, seed the programme
#   worker   deliver webhooks (R-HOOK-1)
#   dev      compose's `dev` profile: migrate, seed and load the demo data into its own database
#            (on the first start only), then serve with the docs; never in production
# A configuration error (a missing production secret, a bad URL) stops at once with code 2 and
# says so; only an unreachable database is waited for (bounded, GUICHET_DATABASE_WAIT_SECONDS).
set -eu
command="${1:-serve}"
[ "$#" -gt 0 ] && shift

python -m app check-config

case "$command" in
  migrate)
    python -m app wait-for-database --timeout "${GUICHET_DATABASE_WAIT_SECONDS:-60}"
    python -m app migrate
    exec python -m app seed
    ;;
  serve)
    # Keep-alive (75 s, over a load balancer's 60 s idle timeout), connection limit and no
    # `server` header: from the GUICHET_SERVER_* settings, see `python -m app serve`. Proxy
    # headers are believed only from GUICHET_FORWARDED_ALLOW_IPS.
    # Address and port: GUICHET_SERVER_HOST (0.0.0.0 in the image) and GUICHET_SERVER_PORT.
    exec python -m app serve --workers "${WEB_CONCURRENCY:-2}" --proxy-headers "$@"
    ;;
  worker)
    exec python -m app worker
    ;;
  dev)
    # One process, so the API and the demo loader share nothing but the database; the demo
    # refuses production (`python -m app demo` exits 1 there), which stops this command.
    python -m app migrate
    python -m app seed
    python -m app demo --if-empty
    exec python -m app serve --workers 1 "$@"
    ;;
  *)
    exec python -m app "$command" "$@"
    ;;
esac
