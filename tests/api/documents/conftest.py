"""The documents suite runs once per storage backend: the local filesystem (a tmp directory)
and S3, against a real S3-compatible server started here (moto's server mode, on 127.0.0.1 and
a free port)."""

from __future__ import annotations

import socket
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
