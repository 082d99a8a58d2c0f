"""Issue 12, a real deployment: what the Dockerfile and compose.yaml rely on, checked here
(no container engine on this machine: `docker compose config` runs where Docker exists).

- requirements.lock pins, with hashes, every dependency of pyproject.toml (whose ranges it
  satisfies), so the image installs exactly it (`pip install --require-hashes`);
- the Dockerfile is multi-stage, installs the project non-editable from the lock, checks
  /readyz, and starts through the entrypoint, which never migrates in `serve`;
- a configuration error stops the entrypoint at once (code 2, said as such), not after 30
  retries reported as "database not reachable";
- compose.yaml: the API, one-shot migrations the API waits for, PostgreSQL and Redis; clamd
  and the documents' volume (issue 24);
- uvicorn believes proxy headers only from GUICHET_FORWARDED_ALLOW_IPS.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from app.__main__ import server_config
from tests.support import test_settings

ROOT = Path(__file__).resolve().parents[2]


def _locked() -> dict[str, tuple[Version, int]]:
    """name -> (pinned version, number of hashes) from requirements.lock."""
    text = (ROOT / "requirements.lock").read_text()
    pins: dict[str, tuple[Version, int]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        match = re.match(r"([A-Za-z0-9_.\-\[\]]+)==(\S+)", block)
        if match:
            name = canonicalize_name(match.group(1).split("[")[0])
            pins[name] = (Version(match.group(2)), block.count("--hash=sha256:"))
    return pins


def _closure(requirement: Requirement, seen: set[str]) -> None:
    from importlib.metadata import PackageNotFoundError, requires

    name = canonicalize_name(requirement.name)
    if name in seen:
        return
    seen.add(name)
    try:
        children = requires(requirement.name) or []
    except PackageNotFoundError:
        return
    extras = requirement.extras
    for line in children:
        child = Requirement(line)
        if child.marker is None or any(
            child.marker.evaluate({"extra": extra}) for extra in (extras or {""})
        ):
            _closure(child, seen)


def test_the_lock_pins_every_dependency_of_pyproject_with_hashes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = _locked()
    assert pins, "requirements.lock is empty"
    for line in project["dependencies"]:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} missing from requirements.lock (make lock)"
        assert requirement.specifier.contains(pins[name][0]), (line, pins[name][0])
    # and what they need in turn, as installed here (the closure of the runtime deps)
    needed: set[str] = set()
    for line in project["dependencies"]:
        _closure(Requirement(line), needed)
    assert needed - set(pins) == set(), "requirements.lock misses transitive dependencies"
    assert all(hashes >= 1 for _, hashes in pins.values())
    # the image carries no development tool
    dev = {canonicalize_name(Requirement(d).name) for d in project["optional-dependencies"]["dev"]}
    assert dev & set(pins) == set()


def test_the_dockerfile_is_multi_stage_non_editable_from_the_lock() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", dockerfile, re.M)) >= 2
    assert "--require-hashes" in dockerfile and "requirements.lock" in dockerfile
    assert not re.search(r"pip install[^\n]*\s-e\s", dockerfile), "editable install"
    assert re.search(r"^HEALTHCHECK .*\n?.*/readyz", dockerfile, re.M)
    assert re.search(r"^USER ", dockerfile, re.M)
    assert 'ENTRYPOINT ["sh", "docker/entrypoint.sh"]' in dockerfile
    for copied in ("requirements.lock", "alembic.ini", "alembic", "docker/entrypoint.sh"):
        assert (ROOT / copied).exists()


def test_serving_never_migrates() -> None:
    script = (ROOT / "docker/entrypoint.sh").read_text()
    serve = script.split("  serve)", 1)[1].split(";;", 1)[0]
    assert "migrate" not in serve and "wait-for-database" not in serve
    migrate = script.split("  migrate)", 1)[1].split(";;", 1)[0]
    assert "python -m app migrate" in migrate
    assert "until" not in script, "no retry loop around the migration itself"


def test_one_port_knob_in_every_launcher() -> None:
    """Issue 27: `make run`, `python -m app serve` and the image listen where
    GUICHET_SERVER_HOST / GUICHET_SERVER_PORT say (tests/contract/test_server.py starts every
    server it tests through them); none passes an address of its own or reads another name."""
    makefile = (ROOT / "Makefile").read_text()
    run = makefile.split("\nrun: demo\n", 1)[1].split("\n\n", 1)[0]
    assert "-m app serve" in run and "--port" not in run and "--host" not in run
    assert not re.search(r"^PORT\s*\?=", makefile, re.M)
    script = (ROOT / "docker/entrypoint.sh").read_text()
    serve = script.split("  serve)", 1)[1].split(";;", 1)[0]
    assert "--port" not in serve and "--host" not in serve and "${PORT" not in serve
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "GUICHET_SERVER_HOST=0.0.0.0" in dockerfile and "GUICHET_SERVER_PORT=8000" in dockerfile
    healthcheck = dockerfile.split("HEALTHCHECK", 1)[1].split("ENTRYPOINT", 1)[0]
    assert "GUICHET_SERVER_PORT" in healthcheck and "'PORT'" not in healthcheck


def _entrypoint(*args: str, **env: str) -> tuple[subprocess.CompletedProcess[str], float]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_")}
    environ |= env
    environ["PATH"] = f"{Path(sys.executable).parent}:{environ.get('PATH', '')}"
    start = time.monotonic()
    done = subprocess.run(  # noqa: S603 - fixed argv
        ["sh", "docker/entrypoint.sh", *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done, time.monotonic() - start


def test_a_configuration_error_stops_at_once_and_says_so() -> None:
    for command in ("serve", "migrate"):
        done, elapsed = _entrypoint(
            command,
            GUICHET_ENVIRONMENT="production",
            GUICHET_DATABASE_URL="postgresql+asyncpg://nobody@127.0.0.1:1/none",
        )
        assert done.returncode == 2, done.stderr
        assert "configuration refusée" in done.stderr
        assert "GUICHET_JWT_SECRET" in done.stderr
        assert "not reachable" not in done.stderr
        assert elapsed < 60


def test_an_unreachable_database_is_waited_for_then_reported(tmp_path: Path) -> None:
    done, _ = _entrypoint(
        "migrate",
        GUICHET_ENVIRONMENT="test",
        GUICHET_DATABASE_URL="postgresql+asyncpg://nobody@127.0.0.1:1/none",
        GUICHET_DATABASE_WAIT_SECONDS="3",
    )
    assert done.returncode == 1
    assert "database not reachable" in done.stderr


def test_compose_has_the_api_one_shot_migrations_postgres_and_redis() -> None:
    compose: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert {"api", "migrate", "postgres", "redis"} <= set(services)
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"].get("restart") == "no"
    api = services["api"]
    assert api["command"] == ["serve"]
    assert api["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert api["depends_on"]["redis"]["condition"] == "service_healthy"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    env = api["environment"]
    assert env["GUICHET_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert "@postgres:" in env["GUICHET_DATABASE_URL"]
    assert env["GUICHET_RATE_LIMIT_STORAGE_URL"].startswith("redis://redis:")
    assert "GUICHET_FORWARDED_ALLOW_IPS" in env
    assert env["GUICHET_ENVIRONMENT"] == "production"
    for name, service in services.items():
        assert "image" in service or "build" in service, name


def test_compose_scans_with_its_clamd_and_keeps_documents_on_a_volume() -> None:
    """Issue 24, R-DOC-2: production needs a scanner; compose brings clamd and points the API
    and the worker (which scans) at it; documents live on a named volume both mount where
    GUICHET_DOCUMENTS_DIR says, and the image creates that directory for its user (a fresh
    volume takes the owner of the directory it is mounted on)."""
    compose: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    clamd = services["clamd"]
    assert clamd["image"].split(":")[0] in ("clamav/clamav", "clamav/clamav-debian")
    for name in ("api", "worker"):
        service = services[name]
        env = service["environment"]
        scanner = env["GUICHET_DOCUMENTS_SCANNER_URL"]
        assert re.fullmatch(r"\$\{GUICHET_DOCUMENTS_SCANNER_URL:-tcp://clamd:3310\}", scanner)
        assert "clamd" in service["depends_on"]
        assert env["GUICHET_DOCUMENTS_STORAGE"] == "filesystem"
        directory = env["GUICHET_DOCUMENTS_DIR"]
        assert f"documents:{directory}" in service["volumes"], name
    assert "documents" in compose["volumes"]
    # one scanner worker: the worker service's, not each API process's
    assert services["api"]["environment"]["GUICHET_DOCUMENTS_SCAN_WORKER_ENABLED"] == "false"
    dockerfile = (ROOT / "Dockerfile").read_text()
    workdir = re.findall(r"^WORKDIR (\S+)", dockerfile, re.M)[-1]
    assert services["api"]["environment"]["GUICHET_DOCUMENTS_DIR"] == f"{workdir}/var/documents"
    assert "mkdir -p var/documents && chown -R guichet:guichet var" in dockerfile
    runtime = dockerfile.split("AS runtime", 1)[1]
    assert re.search(r"apt-get install [^\n]*libmagic1", runtime)  # python-magic at run time


def test_uvicorn_believes_proxy_headers_from_the_setting_only(database_url: str) -> None:
    trusted = test_settings(database_url, forwarded_allow_ips="10.0.0.0/8")
    config = server_config(trusted, proxy_headers=True)
    assert config.proxy_headers is True
    assert config.forwarded_allow_ips == "10.0.0.0/8"
    unset = server_config(test_settings(database_url), proxy_headers=True)
    # unset: uvicorn's own default (its FORWARDED_ALLOW_IPS, else the loopback only)
    assert unset.forwarded_allow_ips == os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")


def test_compose_has_a_development_profile_with_the_demo_and_the_docs() -> None:
    """Issue 27: `docker compose --profile dev up dev` runs the image for development: its own
    database (the demo data loaded by the entrypoint's `dev` command, once), the development
    settings (docs on, the clock in the 2021 call), on a port of its own; none of the
    production services is in that profile, and `dev` is in no other."""
    compose: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    dev = services["dev"]
    assert dev["profiles"] == ["dev"]
    assert [name for name, s in services.items() if "profiles" in s] == ["dev"]
    assert dev["command"] == ["dev"]
    env = dev["environment"]
    assert env["GUICHET_ENVIRONMENT"] == "development"  # show_docs, demo and tokens allowed
    assert env["GUICHET_DATABASE_URL"].startswith("sqlite+aiosqlite:////srv/guichet/var/")
    assert env["GUICHET_CLOCK_START"].startswith("2021-")
    assert "GUICHET_JWT_SECRET" not in env  # the development secret: CLI tokens verify
    assert not {"depends_on"} & set(dev)
    assert "devdata:/srv/guichet/var" in dev["volumes"] and "devdata" in compose["volumes"]
    assert dev["ports"] == ["8001:8000"] and services["api"]["ports"] == ["8000:8000"]
    script = (ROOT / "docker/entrypoint.sh").read_text()
    section = script.split("  dev)", 1)[1].split(";;", 1)[0]
    steps = [line.strip() for line in section.splitlines() if line.strip().startswith("python")]
    steps += [line.strip() for line in section.splitlines() if line.strip().startswith("exec")]
    assert steps == [
        "python -m app migrate",
        "python -m app seed",
        "python -m app demo --if-empty",
        'exec python -m app serve --workers 1 "$@"',
    ]
