"""Command line: `python -m app token|openapi|seed|migrate`."""

from __future__ import annotations

import argparse
import asyncio
import sys

from app.core.config import get_settings


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


async def _seed() -> bool:
    from app.core.clock import use_clock
    from app.core.db import load_clock, make_engine, make_sessionmaker
    from app.programme.service import seed_programme

    settings = get_settings()
    engine = make_engine(settings)
    try:
        sessionmaker = make_sessionmaker(engine)
        # The first start of a database fixes its clock (GUICHET_CLOCK_START): seed under it.
        use_clock(await load_clock(sessionmaker, settings))
        async with sessionmaker() as session, session.begin():
            return await seed_programme(session)
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
    token = sub.add_parser("token", help="imprimer un jeton de développement (HS256)")
    token.add_argument("--role", required=True, choices=["candidate", "prefect", "dinum", "anct"])
    token.add_argument("--departement")
    token.add_argument("--siren")
    token.add_argument("--sub")
    token.add_argument("--ttl", type=int, default=None, help="durée de vie en secondes")
    sub.add_parser("openapi", help="écrire openapi/openapi.json")
    sub.add_parser("seed", help="créer le programme FITN7 axe 3 s'il manque")
    sub.add_parser("migrate", help="alembic upgrade head")
    args = parser.parse_args(argv)
    if args.command == "token":
        return _token(args)
    if args.command == "openapi":
        from app.openapi_export import main as export

        export()
        return 0
    if args.command == "seed":
        created = asyncio.run(_seed())
        print("programme créé" if created else "programme déjà présent")  # noqa: T201
        return 0
    return _migrate(args)


if __name__ == "__main__":
    sys.exit(main())
