"""The S3-compatible media store passes the media-store conformance suite against moto's
S3 server: a local HTTP server speaking the S3 wire format, so the real boto3 code path runs
(signing, retries, XML responses)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from boxoffice.core.clock import ManualClock
from boxoffice.core.errors import ProviderUnavailable
from boxoffice.core.media.store import MediaStore
from boxoffice.core.storage import Database, create_engine
from boxoffice.plugins.config import parse_config
from boxoffice.plugins.manager import load_plugins
from boxoffice.providers.s3store import S3Store, S3StoreOptions
from boxoffice.testing import MediaStoreConformance

CREDENTIALS = {"access_key_id": "test-key", "secret_access_key": "test-secret"}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint: str, request: pytest.FixtureRequest) -> str:
    """A bucket set up as the docs ask operators to: objects publicly readable by policy."""
    name = "media-" + str(abs(hash(request.node.nodeid)))[:12]
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="test-key",
        aws_secret_access_key="test-secret",
    )
    client.create_bucket(Bucket=name)
    client.put_bucket_policy(
        Bucket=name,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{name}/*",
                    }
                ],
            }
        ),
    )
    return name


def _options(endpoint: str, bucket: str, **overrides: object) -> S3StoreOptions:
    values: dict[str, object] = {"bucket": bucket, "endpoint_url": endpoint, **CREDENTIALS}
    values.update(overrides)
    return S3StoreOptions(**values)  # type: ignore[arg-type]


class TestS3Store(MediaStoreConformance):
    @pytest.fixture
    def media_store(self, s3_endpoint: str, bucket: str) -> S3Store:
        return S3Store(_options(s3_endpoint, bucket, prefix="bx/"))

    async def fetched(self, store: MediaStore, key: str) -> bytes | None:
        """As a browser would: over HTTP from the bucket (public by policy)."""
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(store.url(key))
        return response.content if response.status_code == 200 else None

    async def test_objects_are_immutable_and_typed(self, s3_endpoint: str, bucket: str) -> None:
        store = S3Store(_options(s3_endpoint, bucket))
        await store.put("events/e1/0a1b-thumb.webp", b"RIFFdata", "image/webp")
        assert store.url("events/e1/0a1b-thumb.webp") == (
            f"{s3_endpoint}/{bucket}/events/e1/0a1b-thumb.webp"
        )
        async with httpx.AsyncClient() as client:
            response = await client.get(store.url("events/e1/0a1b-thumb.webp"))
        assert response.headers["content-type"] == "image/webp"
        assert "immutable" in response.headers["cache-control"]

    def test_public_url_points_at_a_cdn(self, s3_endpoint: str, bucket: str) -> None:
        store = S3Store(
            _options(s3_endpoint, bucket, prefix="p/", public_url="https://cdn.example.org/")
        )
        assert store.url("a/b.webp") == "https://cdn.example.org/p/a/b.webp"


async def test_a_missing_bucket_or_dead_endpoint_is_reported_not_raised(
    s3_endpoint: str,
) -> None:
    missing = S3Store(_options(s3_endpoint, "no-such-bucket"))
    assert (await missing.health()).state == "down"
    dead = S3Store(_options("http://127.0.0.1:9", "media", timeout_seconds=0.5, max_attempts=1))
    assert (await dead.health()).state == "down"
    with pytest.raises(ProviderUnavailable):
        await dead.put("a.webp", b"x", "image/webp")


def test_registered_only_when_configured(tmp_path: Path, s3_endpoint: str) -> None:
    db = Database(create_engine(f"sqlite+aiosqlite:///{tmp_path}/never-opened.sqlite3"))
    plugins = load_plugins(
        parse_config(""), data_dir=tmp_path, clock=ManualClock(), database=db, environ={}
    )
    assert "s3store" not in plugins.providers.media
    config = (
        '[media]\nstore = "s3store"\n\n[providers.s3store]\nbucket = "m"\n'
        f'endpoint_url = "{s3_endpoint}"\naccess_key_id = "env:KEY"\n'
        'secret_access_key = "env:SECRET"\n'
    )
    plugins = load_plugins(
        parse_config(config),
        data_dir=tmp_path,
        clock=ManualClock(),
        database=db,
        environ={"KEY": "k", "SECRET": "s"},
    )
    assert plugins.problems == []
    store = plugins.providers.media["s3store"]
    assert isinstance(store, S3Store)
    assert store.options.secret_access_key == "s"
