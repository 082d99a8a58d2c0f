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
exec uvicorn app.main:create_app --factory --host 0.0.0.0 --port "${PORT:-8000}" \
  --workers "${WEB_CONCURRENCY:-2}" --proxy-headers \
  --timeout-keep-alive 5 --limit-concurrency 200 --h11-max-incomplete-event-size 16384
