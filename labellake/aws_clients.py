"""boto3 clients built from the settings: region, endpoint (a moto server or LocalStack
when set; AWS_ENDPOINT_URL is honoured by boto3 itself) and retries.

Throttled and transiently failing calls are retried by botocore's standard retry mode
with exponential backoff and jitter, up to MAX_ATTEMPTS times.
"""

from __future__ import annotations

from typing import Any

MAX_ATTEMPTS = 8


def client(
    service: str, region: str, endpoint_url: str | None = None, max_attempts: int = MAX_ATTEMPTS
) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        region_name=region,
        endpoint_url=endpoint_url,
        config=Config(retries={"mode": "standard", "max_attempts": max_attempts}),
    )
