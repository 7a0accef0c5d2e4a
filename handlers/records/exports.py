"""Ledgers (台账) as xlsx workbooks, built in constant memory however long the range.

Rows are read from the database in batches by keyset (`id > last`, never OFFSET) and appended
to an openpyxl write-only workbook, which keeps each sheet's XML in a temporary file rather than
in memory; the finished workbook is written to a temporary file and streamed from there (the
HTTP response gets a Content-Length, the CLI a file). Headers are Chinese, dates local (Excel
has no time zones), personal numbers masked: a ledger is printed and passed around.
The sheets themselves are declared in handlers.records.ledgers.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from aiohttp import web
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from tortoise.queryset import QuerySet

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BATCH = 2000  # rows per query; large enough to amortise the round trip, small in memory
CHUNK = 256 * 1024  # bytes per write to the HTTP response
HALF = re.compile(r"^((?:19|2\d)\d\d)H([12])$")  # 2026H2 = July to December 2026

Batches = AsyncIterator[Sequence[Sequence[Any]]]


async def one_batch(rows: Sequence[Sequence[Any]]) -> Batches:
    """A sheet's rows already in hand, as the one batch `Sheet.batches` yields."""
    yield rows


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    width: int = 12  # characters; Chinese text is about two per character


@dataclass(slots=True)
class Sheet:
    title: str  # at most 31 characters (Excel)
    columns: Sequence[Column]
    batches: Batches  # lists of rows, each row one value per column


@dataclass(frozen=True, slots=True)
class LocalRange:
    """Local calendar days `first`..`last` inclusive, and the UTC instants bounding them."""

    first: date
    last: date
    tz: str

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time.min, ZoneInfo(self.tz)).astimezone(UTC)

    @property
    def end(self) -> datetime:  # exclusive
        return datetime.combine(
            self.last + timedelta(days=1), time.min, ZoneInfo(self.tz)
        ).astimezone(UTC)

    def label(self) -> str:
        return f"{self.first.isoformat()}_{self.last.isoformat()}"


def half_range(half: str, tz: str) -> LocalRange:
    """'2026H1' -> 1 Jan..30 Jun 2026; '2026H2' -> 1 Jul..31 Dec (ValueError otherwise)."""
    m = HALF.match(half or "")
    if not m:
        raise ValueError("half must look like 2026H1 or 2026H2")
    year = int(m.group(1))
    if m.group(2) == "1":
        return LocalRange(date(year, 1, 1), date(year, 6, 30), tz)
    return LocalRange(date(year, 7, 1), date(year, 12, 31), tz)


def local(value: datetime | None, tz: str) -> datetime | None:
    """A stored UTC instant as the local wall time Excel shows (naive: xlsx has no zones)."""
    if value is None:
        return None
    return value.astimezone(ZoneInfo(tz)).replace(tzinfo=None, microsecond=0)


async def keyset(
    query: QuerySet, fields: Sequence[str], *, batch: int = BATCH
) -> AsyncIterator[list[tuple]]:
    """Tuples of `fields` (the first must be the id) of `query` in id order, `batch` at a time.

    Each batch is one indexed query (`id > last ORDER BY id LIMIT n`) that joins what it names
    (`case__cause`) and builds no model objects: a ledger row costs a tuple, not two models.
    """
    last = 0
    while True:
        rows = await query.filter(id__gt=last).order_by("id").limit(batch).values_list(*fields)
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def _header(ws, text: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value=text)
    cell.font = Font(bold=True)
    cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    return cell


def _append(ws, rows: Sequence[Sequence[Any]]) -> None:
    for row in rows:
        ws.append(row)


async def write_workbook(
    sheets: Sequence[Sheet],
    target: str | Path | IO[bytes],
    *,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write `sheets` to `target` (a path or a binary file); returns the number of data rows.

    openpyxl is synchronous: appends and the final zip run in a worker thread, batch by batch,
    so the event loop keeps serving while a large ledger is built.
    """
    wb = Workbook(write_only=True)
    total = 0
    for sheet in sheets:
        ws = wb.create_sheet(sheet.title[:31])
        for i, col in enumerate(sheet.columns, start=1):
            ws.column_dimensions[get_column_letter(i)].width = col.width
        ws.freeze_panes = "A2"
        ws.append([_header(ws, c.header) for c in sheet.columns])
        batches = aiter(sheet.batches)
        # The next batch is read from the database while this one is appended in the thread.
        upcoming = asyncio.ensure_future(anext(batches, None))
        try:
            while (rows := await upcoming) is not None:
                upcoming = asyncio.ensure_future(anext(batches, None))
                await asyncio.to_thread(_append, ws, rows)
                total += len(rows)
                if progress:
                    progress(total)
        finally:
            upcoming.cancel()
    await asyncio.to_thread(wb.save, target)
    return total


async def xlsx_response(
    request: web.Request, sheets: Sequence[Sheet], filename: str
) -> web.StreamResponse:
    """Build the workbook into a temporary file, then stream it with a Content-Length.

    Any error (the database going away) happens before the first byte, so the client gets a
    clean JSON error instead of a truncated file that Excel calls corrupt.
    """
    with tempfile.TemporaryFile(suffix=".xlsx") as tmp:
        await write_workbook(sheets, tmp)
        size = tmp.seek(0, 2)
        tmp.seek(0)
        resp = web.StreamResponse(
            headers={
                "Content-Type": XLSX,
                "Content-Disposition": f'attachment; filename="{filename}"',
                "Cache-Control": "no-store",  # ledgers hold names of people who asked for aid
            }
        )
        resp.content_length = size
        await resp.prepare(request)
        while chunk := await asyncio.to_thread(tmp.read, CHUNK):
            await resp.write(chunk)
        await resp.write_eof()
        return resp
