"""The documents suite runs once per storage backend: the local filesystem (a tmp directory)
and S3, against a real S3-compatible server started here (moto's server mode, on 127.0.0.1 and
a free port)."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from app.core.config import Settings
from app.documents.storage import DocumentStorage

BUCKET = "guichet-documents-test"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    import boto3

    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


@pytest.fixture(params=["filesystem", "s3"])
def storage(
    request: pytest.FixtureRequest,
    app: FastAPI,
    settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[DocumentStorage]:
    """The app's document storage for this test: a fresh directory, or a fresh prefix of the
    S3 server's bucket."""
    if request.param == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        chosen = settings.model_copy(
            update={
                "documents_storage": "s3",
                "documents_s3_bucket": BUCKET,
                "documents_s3_prefix": tmp_path_factory.mktemp("s3").name,
                "documents_s3_endpoint": endpoint,
                "documents_s3_access_key_id": "testing",
                "documents_s3_secret_access_key": SecretStr("testing"),
            }
        )
    else:
        chosen = settings.model_copy(
            update={"documents_dir": str(tmp_path_factory.mktemp("documents"))}
        )
    built = DocumentStorage.from_settings(chosen)
    app.state.document_storage = built
    yield built
    app.state.document_storage = None


# -- a real clamd (R-DOC-2) ----------------------------------------------------------------

# The EICAR test file: every antivirus detects it; the test's own signature database names
# it by its MD5 and size (a `.hdb` line), as no signature update can be fetched here.
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
EICAR_SIGNATURE = "Guichet.Test.EICAR"
# The same string inside a PDF: a type a deliberation allows (R-DOC-2: plain text is refused
# before any scan), signed alike, so that an upload reaches the scanner.
EICAR_PDF = b"%PDF-1.4\n% " + EICAR + b"\n%%EOF\n"


def _pong(path: str) -> bool:
    try:
        with socket.socket(socket.AF_UNIX) as probe:
            probe.settimeout(2)
            probe.connect(path)
            probe.sendall(b"zPING\0")
            return probe.recv(16).rstrip(b"\0") == b"PONG"
    except OSError:
        return False


@pytest.fixture(scope="session")
def clamd_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """clamd started for the suite: its own configuration, a unix socket in a tmp directory,
    a one-signature database. Missing clamd: skipped, but a failure under CI (env CI set)."""
    binary = shutil.which("clamd") or (
        "/usr/sbin/clamd" if os.path.exists("/usr/sbin/clamd") else None
    )
    if binary is None:
        message = "clamd is not installed (Debian package clamav-daemon)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    root = tmp_path_factory.mktemp("clamd")
    database = root / "db"
    database.mkdir()
    (database / "guichet-test.hdb").write_text(
        "".join(
            # ClamAV's .hdb format is MD5
            f"{hashlib.md5(sample).hexdigest()}:{len(sample)}:{EICAR_SIGNATURE}\n"  # noqa: S324
            for sample in (EICAR, EICAR_PDF)
        )
    )
    socket_path = root / "clamd.sock"
    config = root / "clamd.conf"
    config.write_text(
        "Foreground yes\n"
        f"DatabaseDirectory {database}\n"
        f"LocalSocket {socket_path}\n"
        f"LogFile {root / 'clamd.log'}\n"
        f"PidFile {root / 'clamd.pid'}\n"
        "StreamMaxLength 30M\n"
    )
    process = subprocess.Popen(  # noqa: S603 - our own binary and configuration
        [binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"unix://{socket_path}"
    try:
        deadline = time.monotonic() + 60
        while not _pong(str(socket_path)):
            if process.poll() is not None or time.monotonic() > deadline:
                log = (root / "clamd.log").read_text() if (root / "clamd.log").exists() else ""
                pytest.fail(f"clamd did not start: {log[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
