"""A boto3 client as the bundled AWS-speaking providers (``s3store``, ``ses``) make it:
explicit keys or boto3's credential chain, an endpoint for S3-compatible stores and local
fakes, connect and read timeouts, and botocore's ``standard`` retries (throttling and
transient errors, with backoff and jitter) bounded to ``attempts`` per call."""

from __future__ import annotations

from typing import Any


def boto3_client(
    service: str,
    *,
    region: str,
    endpoint_url: str = "",
    access_key_id: str = "",
    secret_access_key: str = "",
    timeout_seconds: float = 10.0,
    attempts: int = 3,
    **config: Any,
) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,  # type: ignore[call-overload]
        region_name=region,
        endpoint_url=endpoint_url or None,
        aws_access_key_id=access_key_id or None,
        aws_secret_access_key=secret_access_key or None,
        config=Config(
            connect_timeout=timeout_seconds,
            read_timeout=timeout_seconds,
            retries={"mode": "standard", "total_max_attempts": attempts},
            **config,
        ),
    )
