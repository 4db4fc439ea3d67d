"""The ``s3store`` media store: objects in an S3-compatible bucket (AWS S3, MinIO, Cloudflare
R2, Backblaze B2, Ceph, ...), through the official ``boto3`` client.

boto3 is synchronous, so its calls run in worker threads behind a per-provider limit (the
bulkhead); botocore's own ``standard`` retry mode retries throttling and transient errors with
backoff and jitter, under connect and read timeouts. Keys carry a content hash, so objects are
written once with ``Cache-Control: immutable`` and browsers fetch them straight from the bucket
(or a CDN in front of it: ``public_url``)::

    [media]
    store = "s3store"

    [providers.s3store]
    bucket = "boxoffice-media"
    region = "eu-central-1"
    endpoint_url = "https://s3.eu-central-1.amazonaws.com"   # or your MinIO/R2 endpoint
    access_key_id = "env:S3_ACCESS_KEY_ID"
    secret_access_key = "env:S3_SECRET_ACCESS_KEY"
    public_url = "https://media.example.org"                 # optional: a CDN

The bucket must exist and allow public reads of the objects (a bucket policy or the CDN's
origin access); boxoffice never creates buckets or changes their policy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal, TypeVar

import msgspec
from botocore.exceptions import BotoCoreError, ClientError

from boxoffice.core.errors import ProviderUnavailable
from boxoffice.core.hookspecs import PluginContext, hookimpl
from boxoffice.core.providers import Bulkhead, HealthState, ProviderHealth
from boxoffice.providers.aws import boto3_client
from boxoffice.providers.localstore import SAFE_KEY

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

T = TypeVar("T")

IMMUTABLE = "public, max-age=31536000, immutable"


class S3StoreOptions(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    bucket: str
    region: str = "us-east-1"
    #: Empty: AWS's own endpoint for ``region``.
    endpoint_url: str = ""
    access_key_id: str = ""
    secret_access_key: str = ""
    #: Prepended to every key, e.g. "boxoffice/".
    prefix: str = ""
    #: Where browsers fetch objects; empty: the bucket's own URL (path style).
    public_url: str = ""
    #: "path" (MinIO and most self-hosted stores) or "virtual" (AWS's default).
    addressing_style: Literal["path", "virtual", "auto"] = "path"
    timeout_seconds: float = 10.0
    max_attempts: int = 3
    #: Concurrent calls into the store from one process (the bulkhead).
    max_concurrency: int = 8


class S3Store:
    id = "s3store"

    def __init__(self, options: S3StoreOptions, client: S3Client | None = None) -> None:
        self.options = options
        self.client: S3Client = client or boto3_client(
            "s3",
            region=options.region,
            endpoint_url=options.endpoint_url,
            access_key_id=options.access_key_id,
            secret_access_key=options.secret_access_key,
            timeout_seconds=options.timeout_seconds,
            attempts=options.max_attempts,
            s3={"addressing_style": options.addressing_style},
        )
        self._bulkhead = Bulkhead(options.max_concurrency)

    def _object_key(self, key: str) -> str:
        if not SAFE_KEY.match(key) or ".." in key:
            raise ValueError(f"unsafe media key {key!r}")
        return self.options.prefix + key

    async def _call(self, function: Callable[[], T]) -> T:
        try:
            return await self._bulkhead.run(function)
        except (BotoCoreError, ClientError) as error:
            raise ProviderUnavailable("the media store did not answer; try again") from error

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        object_key = self._object_key(key)
        await self._call(
            lambda: self.client.put_object(
                Bucket=self.options.bucket,
                Key=object_key,
                Body=data,
                ContentType=content_type,
                CacheControl=IMMUTABLE,
            )
        )

    async def delete(self, key: str) -> None:
        object_key = self._object_key(key)
        await self._call(
            lambda: self.client.delete_object(Bucket=self.options.bucket, Key=object_key)
        )

    async def read(self, key: str) -> bytes | None:
        try:
            object_key = self._object_key(key)
        except ValueError:
            return None

        def fetch() -> bytes | None:
            try:
                found = self.client.get_object(Bucket=self.options.bucket, Key=object_key)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                    return None
                raise
            return found["Body"].read()

        return await self._call(fetch)

    def url(self, key: str) -> str:
        base = self.options.public_url.rstrip("/")
        if not base:
            endpoint = self.options.endpoint_url.rstrip("/") or (
                f"https://s3.{self.options.region}.amazonaws.com"
            )
            base = f"{endpoint}/{self.options.bucket}"
        return f"{base}/{self._object_key(key)}"

    async def health(self) -> ProviderHealth:
        try:
            await self._call(lambda: self.client.head_bucket(Bucket=self.options.bucket))
        except ProviderUnavailable:
            return ProviderHealth(HealthState.DOWN, detail=f"bucket {self.options.bucket}")
        return ProviderHealth(HealthState.UP, detail=f"bucket {self.options.bucket}")


@hookimpl
def register_media_stores(context: PluginContext) -> Sequence[S3Store]:
    if "s3store" not in context.configured():
        return []
    return [S3Store(context.options("s3store", S3StoreOptions))]
