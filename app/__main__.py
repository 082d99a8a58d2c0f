"""Command line: `python -m app serve|worker|token|openapi|seed|migrate|demo|clock|check-config`."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from collections.abc import MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING

from app.core.config import Settings, get_settings

if TYPE_CHECKING:
    import uvicorn

# h11 refuses request heads over 16 KiB (431 before the app sees them).
MAX_REQUEST_HEAD_BYTES = 16384


def _token(args: argparse.Namespace) -> int:
    from app.core.security import encode_access_token

    if args.role == "prefect" and not args.departement:
        print("--departement est requis pour un préfet", file=sys.stderr)  # noqa: T201
        return 2
    if args.role == "candidate" and not args.siren:
        print("--siren est requis pour un candidat", file=sys.stderr)  # noqa: T201
        return 2
    token = encode_access_token(
        get_settings(),
        sub=args.sub or f"dev-{args.role}",
        role=args.role,
        departement=args.departement,
        siren=args.siren,
        ttl_seconds=args.ttl,
    )
    print(token)  # noqa: T201
    return 0


async def _seed(every: bool) -> bool:
    from app.core.clock import use_clock
    from app.core.db import load_clock, make_engine, make_sessionmaker
    from app.programme.service import SEEDED_PROGRAMMES, seed_programme

    settings = get_settings()
    engine = make_engine(settings)
    try:
        sessionmaker = make_sessionmaker(engine)
        # The first start of a database fixes its clock (GUICHET_CLOCK_START): seed under it.
        use_clock(await load_clock(sessionmaker, settings))
        async with sessionmaker() as session, session.begin():
            if every:  # R-PROG-2: the second call of the seed data too
                return await seed_programme(session, SEEDED_PROGRAMMES)
            return await seed_programme(session)
    finally:
        await engine.dispose()


def _demo(args: argparse.Namespace) -> int:
    """Load the demonstration story (app/demo/). `--if-empty` (what `make run` does):
    skip quietly when GUICHET_DEMO_DATA=false or when the database holds data already."""
    from app.demo import DemoRefused, load

    settings = get_settings()
    if args.if_empty and not settings.demo_data:
        print("GUICHET_DEMO_DATA=false : base laissée vide", file=sys.stderr)  # noqa: T201
        return 0
    try:
        loaded = asyncio.run(load(settings, scale=args.scale))
    except DemoRefused as refused:
        print(refused, file=sys.stderr)  # noqa: T201
        production = settings.environment == "production"
        return 0 if args.if_empty and not production else 1
    counts = ", ".join(f"{state} {n}" for state, n in sorted(loaded.counts().items()))
    print(  # noqa: T201
        f"données de démonstration chargées : {len(loaded.candidates)} candidats, "
        f"{len(loaded.dossiers)} dossiers ({counts}), {len(loaded.committees)} comités clos, "
        f"{loaded.requests} requêtes en {loaded.seconds:.1f} s"
    )
    return 0


def _clock(args: argparse.Namespace) -> int:
    """`clock show|set <date or instant>|advance <N>d` (app.core.clock_moves): development only,
    forward only, audited."""
    from app.core.clock import PARIS
    from app.core.clock_moves import (
        ClockMoveRefused,
        move_clock,
        parse_days,
        parse_instant,
        read_clock,
    )
    from app.core.db import make_engine, make_sessionmaker

    settings = get_settings()

    async def run() -> str:
        engine = make_engine(settings)
        try:
            sessionmaker = make_sessionmaker(engine)
            if args.action == "show":
                clock, row = await read_clock(sessionmaker, settings)
                now = clock.now().astimezone(PARIS).isoformat("T", "seconds")
                fixed = row.fixed_at.isoformat("T", "seconds")
                return f"horloge du service : {now} (décalage {clock.offset}, fixé le {fixed})"
            if args.action == "set":
                move = await move_clock(sessionmaker, settings, to=parse_instant(args.value))
            else:
                move = await move_clock(sessionmaker, settings, by=parse_days(args.value))
            before = move.before.astimezone(PARIS).isoformat("T", "seconds")
            after = move.after.astimezone(PARIS).isoformat("T", "seconds")
            return f"horloge du service avancée : {before} → {after}"
        finally:
            await engine.dispose()

    if args.action != "show" and args.value is None:
        message = "indiquez une date (clock set 2026-06-15) ou des jours (clock advance 30d)"
        print(message, file=sys.stderr)  # noqa: T201
        return 2
    try:
        print(asyncio.run(run()))  # noqa: T201
    except ClockMoveRefused as refused:
        print(refused, file=sys.stderr)  # noqa: T201
        return 1
    return 0


def _check_config(_args: argparse.Namespace) -> int:
    """Exit 2 at once on a configuration error (the container entrypoint runs it first, so a
    missing production secret is reported as such, never retried as an unreachable database)."""
    from pydantic import ValidationError

    get_settings.cache_clear()
    try:
        get_settings()
    except ValidationError as error:
        print(f"configuration refusée : {error}", file=sys.stderr)  # noqa: T201
        return 2
    return 0


def _wait_for_database(args: argparse.Namespace) -> int:
    """Exit 0 once the database answers, 1 after `--timeout` seconds of it not answering."""
    import time

    from sqlalchemy import text
    from sqlalchemy.exc import InterfaceError, OperationalError

    from app.core.db import make_engine
    from app.core.errors import DatabaseUnavailable

    async def ping() -> None:
        engine = make_engine(get_settings())
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        finally:
            await engine.dispose()

    deadline = time.monotonic() + args.timeout
    while True:
        reason: Exception
        try:
            asyncio.run(ping())
            return 0
        except (OSError, OperationalError, InterfaceError, DatabaseUnavailable) as exc:
            # unreachable (refused, timed out, starting): wait; anything else is raised at once
            reason = exc
        if time.monotonic() >= deadline:
            print(f"database not reachable: {reason}", file=sys.stderr)  # noqa: T201
            return 1
        time.sleep(2)


def server_config(
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
    proxy_headers: bool = False,
) -> uvicorn.Config:
    """uvicorn's configuration from the settings (issue 8 items 8 and 10).

    - keep-alive outlives a load balancer's idle timeout (75 s by default, over the usual 60 s),
      so the server never closes a connection the balancer is about to reuse (a 502);
    - uvicorn's `limit_concurrency` counts connections, idle keep-alive ones included, and
      answers text/plain: it is set far above our own in-flight limit, which counts requests and
      answers problem+json (app.core.middleware.InFlightLimitMiddleware);
    - no `server: uvicorn` header.
    """
    import uvicorn

    return uvicorn.Config(
        "app.main:create_app",
        factory=True,
        host=host or settings.server_host,
        port=settings.server_port if port is None else port,
        workers=workers or settings.server_workers,
        proxy_headers=proxy_headers,
        # Proxy headers are believed only from these peers: the same list as the rate limiter's
        # (GUICHET_FORWARDED_ALLOW_IPS); unset, uvicorn's own FORWARDED_ALLOW_IPS or 127.0.0.1.
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
        timeout_keep_alive=settings.server_keep_alive_seconds,
        limit_concurrency=settings.server_limit_concurrency,
        h11_max_incomplete_event_size=MAX_REQUEST_HEAD_BYTES,
        server_header=False,
        # one JSON line per request comes from the app (app.core.observability)
        access_log=False,
    )


MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_metrics_dir(
    workers: int, environ: MutableMapping[str, str] | None = None
) -> str | None:
    """Prometheus multiprocess mode for several workers (issue 11): each worker writes its
    metrics to files in PROMETHEUS_MULTIPROC_DIR and a scrape sums them.

    The directory is the one given in the environment, or a new temporary one when several
    workers start without it; it is emptied before the workers start (stale files of a
    previous run would be summed too). Set before the workers are spawned, which inherit it
    and import prometheus_client with it. Returns the directory, None in single-process mode.
    """
    env = os.environ if environ is None else environ
    path = env.get(MULTIPROC_ENV) or None
    if path is None and workers > 1:
        path = tempfile.mkdtemp(prefix="guichet-metrics-")
        env[MULTIPROC_ENV] = path
    if path is not None:
        Path(path).mkdir(parents=True, exist_ok=True)
        for stale in Path(path).glob("*.db"):
            stale.unlink()
    return path


def _serve(args: argparse.Namespace) -> int:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    config = server_config(
        get_settings(),
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=args.proxy_headers,
    )
    for lack in get_settings().embedded_defaults():  # what `make run` runs without
        print(f"sans {lack}", file=sys.stderr)  # noqa: T201
    prepare_metrics_dir(config.workers)
    if config.workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
        return 0
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 3


async def _work() -> None:
    """R-HOOK-1: deliver webhooks and e-mails (R-NOTIF-1), and write decisions back to
    démarches-simplifiées when a DS token is configured, until SIGINT/SIGTERM (a process of
    its own; several may share one PostgreSQL, SKIP LOCKED keeps them apart)."""
    import signal

    import app.stats.counters  # noqa: F401 - the dashboards' counters follow the audited writes
    from app.core.clock import use_clock
    from app.core.db import load_clock, make_engine, make_sessionmaker
    from app.ds.worker import run_worker as run_ds_worker
    from app.notifications.worker import run_worker as run_notification_worker
    from app.webhooks.worker import run_worker

    settings = get_settings()
    engine = make_engine(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        sessionmaker = make_sessionmaker(engine)
        use_clock(await load_clock(sessionmaker, settings))
        workers = [run_worker(sessionmaker, settings, stop)]
        if settings.ds_worker_enabled and settings.ds_api_token is not None:
            workers.append(run_ds_worker(sessionmaker, settings, stop))  # issue 14 write-back
        if settings.documents_scanner_url is not None:  # R-DOC-2: the malware scan
            from app.documents.storage import DocumentStorage
            from app.documents.worker import run_worker as run_scan_worker

            storage = DocumentStorage.from_settings(settings)
            workers.append(run_scan_worker(sessionmaker, settings, storage, stop))
        workers.append(run_notification_worker(sessionmaker, settings, stop))  # R-NOTIF-1
        await asyncio.gather(*workers)
    finally:
        await engine.dispose()


def _migrate(_args: argparse.Namespace) -> int:
    from alembic import command

    from app.core.migrations import alembic_config

    command.upgrade(alembic_config(), "head")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app", description="Guichet FITN7 axe 3")
    sub = parser.add_subparsers(dest="command", required=True)
    token = sub.add_parser(
        "token", help="imprimer un jeton de développement (HS256, ou signé par la clé du service)"
    )
    token.add_argument("--role", required=True, choices=["candidate", "prefect", "dinum", "anct"])
    token.add_argument("--departement")
    token.add_argument("--siren")
    token.add_argument("--sub")
    token.add_argument("--ttl", type=int, default=None, help="durée de vie en secondes")
    serve = sub.add_parser("serve", help="servir l'API (uvicorn, réglages GUICHET_SERVER_*)")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--workers", type=int, default=None)
    serve.add_argument("--proxy-headers", action="store_true")
    sub.add_parser(
        "worker",
        help="livrer les webhooks (R-HOOK-1), les courriels (R-NOTIF-1) et les décisions à DS, "
        "analyser les documents (R-DOC-2), sans servir l'API",
    )
    sub.add_parser("openapi", help="écrire openapi/openapi.json")
    seed = sub.add_parser("seed", help="créer le programme par défaut s'il manque")
    seed.add_argument(
        "--all",
        dest="every",
        action="store_true",
        help="créer aussi les autres programmes des données de départ (R-PROG-2)",
    )
    sub.add_parser("migrate", help="alembic upgrade head")
    demo = sub.add_parser(
        "demo", help="charger les données de démonstration (jamais en production)"
    )
    demo.add_argument(
        "--if-empty",
        action="store_true",
        help="ne rien faire si GUICHET_DEMO_DATA=false ou si la base contient déjà des données",
    )
    demo.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="taille de l'histoire FITN7 (1 : environ 230 dossiers ; les tests en chargent moins)",
    )
    clock = sub.add_parser(
        "clock",
        help="lire ou avancer l'horloge du service (développement ; jamais en arrière ; audité)",
    )
    clock.add_argument("action", choices=["show", "set", "advance"])
    clock.add_argument(
        "value", nargs="?", help="set : 2026-06-15 ou 2026-06-15T14:00:00+02:00 ; advance : 30d"
    )
    sub.add_parser("check-config", help="valider la configuration (code 2 si elle est refusée)")
    wait = sub.add_parser("wait-for-database", help="attendre que la base réponde")
    wait.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    if args.command == "token":
        return _token(args)
    if args.command == "serve":
        return _serve(args)
    if args.command == "worker":
        asyncio.run(_work())
        return 0
    if args.command == "openapi":
        from app.openapi_export import main as export

        export()
        return 0
    if args.command == "seed":
        created = asyncio.run(_seed(args.every))
        print("programme créé" if created else "programme déjà présent")  # noqa: T201
        return 0
    if args.command == "demo":
        return _demo(args)
    if args.command == "clock":
        return _clock(args)
    if args.command == "check-config":
        return _check_config(args)
    if args.command == "wait-for-database":
        return _wait_for_database(args)
    return _migrate(args)


if __name__ == "__main__":
    sys.exit(main())
