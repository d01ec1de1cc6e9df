"""Shared pytest fixtures; the storage ones live in tests/support/fixtures.py."""

from tests.support.fixtures import (
    backend,
    local_store,
    oss_bucket,
    oss_server,
    oss_store,
    s3_client,
    s3_store,
)

__all__ = ["backend", "local_store", "oss_bucket", "oss_server", "oss_store", "s3_client", "s3_store"]
