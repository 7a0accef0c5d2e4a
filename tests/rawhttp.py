"""Raw HTTP/1.1 against a test server's real socket: what aiohttp's client will not send.

Bytes headers (non-ASCII, over-long), bodies split into TCP writes with pauses between them, and
chunked bodies — the shapes slow village networks and hostile clients produce.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from aiohttp.test_utils import TestClient


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


async def raw_request(
    client: TestClient,
    method: str,
    path: str,
    *,
    headers: dict[str, str | bytes] | None = None,
    parts: list[bytes] = (),
    pause: float = 0.0,
    chunked: bool = False,
) -> RawResponse:
    """Sends the request head, then each of `parts` as its own write `pause` seconds apart
    (as chunks when `chunked`), and reads the whole answer."""
    server = client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        head = [
            f"{method} {path} HTTP/1.1".encode(),
            f"Host: {server.host}".encode(),
            b"Connection: close",
        ]
        hdrs = dict(headers or {})
        if chunked:
            hdrs["Transfer-Encoding"] = "chunked"
        elif "Content-Length" not in hdrs:
            hdrs["Content-Length"] = str(sum(len(p) for p in parts))
        for name, value in hdrs.items():
            head.append(
                name.encode()
                + b": "
                + (value if isinstance(value, bytes) else value.encode("utf-8"))
            )
        writer.write(b"\r\n".join(head) + b"\r\n\r\n")
        await writer.drain()
        for i, part in enumerate(parts):
            if i and pause:
                await asyncio.sleep(pause)
            writer.write(f"{len(part):x}\r\n".encode() + part + b"\r\n" if chunked else part)
            await writer.drain()
        if chunked:
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        raw = await asyncio.wait_for(reader.read(), timeout=30)
    finally:
        writer.close()
    head_raw, _, body = raw.partition(b"\r\n\r\n")
    lines = head_raw.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    out = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        out[name.strip().lower()] = value.strip()
    if out.get("transfer-encoding") == "chunked":
        body = _dechunk(body)
    return RawResponse(status, out, body)


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out, data = out + rest[:size], rest[size + 2 :]
    return out
