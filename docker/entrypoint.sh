#!/bin/sh
# Container start: wait for the database (bounded), migrate, seed, serve.
set -eu
tries=0
until python -m app migrate; do
  tries=$((tries + 1))
  if [ "$tries" -ge 30 ]; then echo "database not reachable after 30 attempts" >&2; exit 1; fi
  sleep 2
done
python -m app seed
# Keep-alive (75 s, over a load balancer's 60 s idle timeout), connection limit and no
# `server` header: from the GUICHET_SERVER_* settings, see `python -m app serve`.
exec python -m app serve --host 0.0.0.0 --port "${PORT:-8000}" \
  --workers "${WEB_CONCURRENCY:-2}" --proxy-headers
