"""A local S3-compatible server for the tests: moto's server mode in a subprocess.

`s3_server` (session-scoped) starts `python -m moto.server` on a free port and yields its
endpoint URL; `make_bucket(endpoint, name)` creates a bucket there. moto keeps everything in
memory, so each test uses its own bucket name. Skipped when moto is not installed.
"""

from __future__ import annotations

import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest

ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    pytest.importorskip("moto.server", reason="moto[server] is not installed (.[test])")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(url + "/moto-api/", timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError("moto server exited") from None
                time.sleep(0.1)
        else:
            raise RuntimeError("moto server did not answer within 30 s")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def s3_settings(endpoint: str, bucket: str, prefix: str = "centre") -> dict[str, str]:
    """Settings fields (model_copy update) that put storage in `bucket` on the server."""
    return {
        "storage_url": f"s3://{bucket}/{prefix}",
        "s3_endpoint_url": endpoint,
        "s3_access_key_id": ACCESS_KEY,
        "s3_secret_access_key": SECRET_KEY,
        "s3_region": "cn-north-1",
    }


def s3_env(endpoint: str, bucket: str, prefix: str = "centre") -> dict[str, str]:
    """The same as environment variables, for a server process."""
    return {"BOT_" + k.upper(): v for k, v in s3_settings(endpoint, bucket, prefix).items()}


async def make_bucket(endpoint: str, name: str | None = None) -> str:
    from aiobotocore.session import get_session

    name = name or "test-" + secrets.token_hex(6)
    async with get_session().create_client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    ) as s3:
        await s3.create_bucket(Bucket=name)
    return name


async def list_keys(endpoint: str, bucket: str) -> list[str]:
    from aiobotocore.session import get_session

    async with get_session().create_client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    ) as s3:
        out = await s3.list_objects_v2(Bucket=bucket)
    return sorted(o["Key"] for o in out.get("Contents", []))
