"""Where AWS calls go (`AwsTarget`: a region and an optional endpoint, resolved once from
the settings), and the boto3 clients built for it.

The endpoint is a moto server or LocalStack when set; without one, boto3 honours
AWS_ENDPOINT_URL itself.

Throttled and transiently failing calls are retried by botocore's standard retry mode
with exponential backoff and jitter, up to MAX_ATTEMPTS times.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class AwsTarget:
    """The region and endpoint every AWS client of a home talks to."""

    region: str
    endpoint_url: str | None = None

    @property
    def kwargs(self) -> dict[str, str | None]:
        """``region`` and ``endpoint_url`` as keyword arguments of the lake's object-store
        functions (ObjectStore.from_uri, read_uri, locate)."""
        return {"region": self.region, "endpoint_url": self.endpoint_url}

    @property
    def resolved_endpoint(self) -> str | None:
        """The endpoint, or AWS_ENDPOINT_URL where the settings name none (for calls that do
        not go through boto3's own resolution, e.g. an endpoint test or a work team URL)."""
        return self.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None

    def client(self, service: str, *, max_attempts: int = MAX_ATTEMPTS) -> Any:
        return client(service, self.region, self.endpoint_url, max_attempts=max_attempts)


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


def store_options(aws: AwsTarget | None) -> dict[str, str | None]:
    """The keyword arguments of the lake's object-store functions for ``aws`` (none: the
    environment's region and endpoint)."""
    return aws.kwargs if aws else {}


def error_code(exc: ClientError) -> str:
    """The service's error code of a failed call ("" when it gave none)."""
    return str(exc.response.get("Error", {}).get("Code", ""))
