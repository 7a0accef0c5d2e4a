"""Weekly series over the last 12 weeks, and their geometry as inline SVG (no chart library:
nothing to download, and a phone in a village draws it instantly).

Each series is one GROUP BY query over the window, bucketed by local week in the database; the
figures follow the digest's definitions (handlers.records.digest): received/decided by their
timestamps, overdue by the decision's due date, coverage as callbacks completed over application
cases closed (notification cases are outside the 回访率, DOMAIN §2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tortoise import connections

from handlers.records import digest
from models.application import Application
from models.callback import Callback, CallbackStatus
from models.handoff import Handoff
from models.policy import Policy

WEEKS = 12
W, H, PAD = 320, 120, 18  # viewBox of a chart; scales to the screen's width


@dataclass(slots=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    value: float | None  # None: nothing to measure that week (no bar, "–")
    label: str


@dataclass(slots=True)
class Chart:
    bars: list[Bar]
    series: list[list[Bar]]  # extra bar series drawn beside the first (e.g. decided)
    target_y: float | None
    top: float
    labels: list[str]


class Weeks:
    """Local weeks ending today: week 0 starts 83 days ago, week 11 contains today."""

    def __init__(self, today: date, tz: str) -> None:
        self.first = today - timedelta(days=7 * WEEKS - 1)
        self.last = today
        self.tz = ZoneInfo(tz)
        self.since = datetime.combine(self.first, time(), self.tz).astimezone(UTC)
        self.labels = [
            f"{d.month}/{d.day}" for d in (self.first + timedelta(days=7 * i) for i in range(WEEKS))
        ]

    def index(self, value: date | datetime | None) -> int | None:
        if value is None:
            return None
        day = value.astimezone(self.tz).date() if isinstance(value, datetime) else value
        i = (day - self.first).days // 7
        return i if 0 <= i < WEEKS else None


def chart(
    values: Sequence[float | None],
    *others: Sequence[float | None],
    target: float | None = None,
    top: float | None = None,
    labels: list[str],
) -> Chart:
    """Bars for `values` (and thinner neighbours for `others`) scaled to the largest value or
    the target line, whichever is higher; a None value is a week without a bar."""
    known = [v for vals in (values, *others) for v in vals if v is not None]
    top = top or max([1.0, *known, *([target] if target is not None else [])])
    n = 1 + len(others)
    slot = (W - PAD) / WEEKS
    width = slot * 0.8 / n

    def bars(vals: Sequence[float | None], k: int) -> list[Bar]:
        out = []
        for i, v in enumerate(vals):
            h = (H - PAD) * ((v or 0.0) / top)
            out.append(
                Bar(
                    x=PAD + i * slot + k * width,
                    y=H - PAD - h,
                    w=width,
                    h=h,
                    value=None if v is None else round(v, 2),
                    label=labels[i],
                )
            )
        return out

    target_y = H - PAD - (H - PAD) * (target / top) if target is not None else None
    return Chart(
        bars(values, 0), [bars(o, k + 1) for k, o in enumerate(others)], target_y, top, labels
    )


class Sql:
    """Week buckets computed by the database (one GROUP BY per series, whatever the volume):
    `local_week(col)` for a timestamp (local date, the centre's zone), `date_week(col)` for a
    date column. sqlite has no time zones: it shifts by the zone's current offset (exact for
    China, which has no daylight saving)."""

    def __init__(self, weeks: Weeks) -> None:
        self.conn = connections.get("default")
        self.pg = self.conn.capabilities.dialect == "postgres"
        self.weeks = weeks
        self.params: list = []

    def p(self, value) -> str:
        self.params.append(value)
        return f"${len(self.params)}" if self.pg else "?"

    def local_date(self, col: str) -> str:
        if self.pg:
            return f"({col} AT TIME ZONE {self.p(str(self.weeks.tz))})::date"
        offset = datetime.now(self.weeks.tz).utcoffset() or timedelta()
        return f"date({col}, '{int(offset.total_seconds() // 60):+d} minutes')"

    def days_since_first(self, date_sql: str) -> str:
        if self.pg:
            return f"({date_sql} - {self.p(self.weeks.first)}::date)"
        first = self.p(str(self.weeks.first))
        return f"CAST(julianday({date_sql}) - julianday({first}) AS INTEGER)"

    def local_week(self, col: str) -> str:
        return f"({self.days_since_first(self.local_date(col))} / 7)"

    def date_week(self, col: str) -> str:
        return f"({self.days_since_first(col)} / 7)"

    def since(self) -> str:
        return self.p(self.weeks.since if self.pg else str(self.weeks.since))

    def first(self) -> str:
        return self.p(self.weeks.first if self.pg else str(self.weeks.first))

    def day(self, d: date) -> str:
        return self.p(d if self.pg else str(d))

    def local_time(self, col: str) -> str:
        """The local time of day of a timestamp column, comparable with `clock`."""
        if self.pg:
            return f"({col} AT TIME ZONE {self.p(str(self.weeks.tz))})::time"
        offset = datetime.now(self.weeks.tz).utcoffset() or timedelta()
        return f"time({col}, '{int(offset.total_seconds() // 60):+d} minutes')"

    def clock(self, t: time) -> str:
        return self.p(t if self.pg else t.strftime("%H:%M:%S"))

    def minutes(self, later: str, earlier: str) -> str:
        if self.pg:
            return f"EXTRACT(EPOCH FROM ({later} - {earlier})) / 60"
        return f"(julianday({later}) - julianday({earlier})) * 1440"

    async def rows(self, sql: str) -> list[dict]:
        _, rows = await self.conn.execute_query(sql, self.params)
        self.params = []
        return [dict(r) for r in rows]


def _fill(rows: list[dict], field: str) -> list[float]:
    out = [0.0] * WEEKS
    for r in rows:
        if r["wk"] is not None and 0 <= int(r["wk"]) < WEEKS:
            out[int(r["wk"])] = float(r[field] or 0)
    return out


async def applications(region: str, weeks: Weeks, today: date) -> dict[str, list[float]]:
    q, table = Sql(weeks), Application._meta.db_table
    received = await q.rows(
        f'SELECT {q.local_week("received_at")} AS wk, COUNT(*) AS n FROM "{table}" '
        f"WHERE region = {q.p(region)} AND received_at >= {q.since()} GROUP BY wk"
    )
    decided = await q.rows(
        f'SELECT {q.local_week("decided_at")} AS wk, COUNT(*) AS n FROM "{table}" '
        f"WHERE region = {q.p(region)} AND decided_at >= {q.since()} GROUP BY wk"
    )
    # late: decided after its due day, or still undecided past it; counted in the due week
    overdue = await q.rows(
        f'SELECT {q.date_week("decision_due")} AS wk, COUNT(*) AS n FROM "{table}" '
        f"WHERE region = {q.p(region)} AND decision_due >= {q.first()} AND ("
        f"(decided_at IS NULL AND decision_due < {q.day(today)}) OR "
        f"(decided_at IS NOT NULL AND {q.local_date('decided_at')} > decision_due)) "
        "GROUP BY wk"
    )
    return {
        "received": _fill(received, "n"),
        "decided": _fill(decided, "n"),
        "overdue": _fill(overdue, "n"),
    }


async def callbacks(
    region: str, weeks: Weeks, *, coverage: digest.CoverageDays | None = None
) -> dict[str, list[float]]:
    """Coverage by closing week (from `coverage`, the digest's per-day figures, when the caller
    has read them over the 12 weeks) and satisfaction by answering week."""
    q = Sql(weeks)
    if coverage is None:
        coverage = await digest.coverage_by_day(region, weeks.first, weeks.last)
    closed, done = [0.0] * WEEKS, [0.0] * WEEKS
    for day, (c, d) in coverage.items():
        i = weeks.index(day)
        if i is not None:
            closed[i] += c
            done[i] += d
    satisfied = await q.rows(
        f"SELECT {q.local_week('answered_at')} AS wk, COUNT(*) AS n, "
        "SUM(CASE WHEN satisfied THEN 1 ELSE 0 END) AS ok "
        f'FROM "{Callback._meta.db_table}" WHERE region = {q.p(region)} '
        f"AND status = {q.p(CallbackStatus.COMPLETED.value)} AND answered_at >= {q.since()} "
        "GROUP BY wk"
    )
    answered, ok = _fill(satisfied, "n"), _fill(satisfied, "ok")
    return {
        "coverage": [d / c if c else 0.0 for d, c in zip(done, closed, strict=True)],
        "satisfaction": [o / n if n else 0.0 for o, n in zip(ok, answered, strict=True)],
    }


def _fill_known(rows: list[dict], field: str) -> list[float | None]:
    out: list[float | None] = [None] * WEEKS
    for r in rows:
        if r["wk"] is not None and 0 <= int(r["wk"]) < WEEKS and r[field] is not None:
            out[int(r["wk"])] = float(r[field])
    return out


async def handoffs(region: str, weeks: Weeks, policy: Policy) -> dict[str, list[float | None]]:
    """What the reply-time rule (DOMAIN §4) asks, per week of opening.

    `share`: tickets first answered by their due time (`due_at`: the day's
    handoff_day_reply_minutes, or the morning's handoff_night_reply_by for a night ticket) among
    those answered or unanswered past it; `late` counts the others. `p50`/`p90`: the median and
    90th percentile of the minutes to the first reply of the tickets opened in the day hours,
    whose limit is those minutes (a night ticket waits for the morning by rule: it counts in the
    share only). Percentiles by nearest rank, in the database with window functions, so no
    ticket is loaded. A week with nothing to measure is None."""
    q, now, table = Sql(weeks), datetime.now(UTC), Handoff._meta.db_table
    answers = await q.rows(
        f"SELECT {q.local_week('opened_at')} AS wk, "
        "SUM(CASE WHEN first_reply_at <= due_at THEN 1 ELSE 0 END) AS on_time, "
        "SUM(CASE WHEN first_reply_at > due_at OR (first_reply_at IS NULL AND due_at < "
        f"{q.p(now if q.pg else str(now))}) THEN 1 ELSE 0 END) AS late "
        f'FROM "{table}" WHERE region = {q.p(region)} AND opened_at >= {q.since()} GROUP BY wk'
    )
    day_replies = (
        f"SELECT {q.local_week('opened_at')} AS wk, "
        f"{q.minutes('first_reply_at', 'opened_at')} AS m "
        f'FROM "{table}" WHERE region = {q.p(region)} AND opened_at >= {q.since()} '
        f"AND first_reply_at IS NOT NULL "
        f"AND {q.local_time('opened_at')} >= {q.clock(policy.handoff_day_start)} "
        f"AND {q.local_time('opened_at')} < {q.clock(policy.handoff_day_end)}"
    )
    ranked = (
        "SELECT wk, m, ROW_NUMBER() OVER (PARTITION BY wk ORDER BY m) AS rn, "
        f"COUNT(*) OVER (PARTITION BY wk) AS n FROM ({day_replies}) t"
    )
    percentiles = await q.rows(
        "SELECT wk, MIN(CASE WHEN rn >= 0.5 * n THEN m END) AS p50, "
        f"MIN(CASE WHEN rn >= 0.9 * n THEN m END) AS p90 FROM ({ranked}) r GROUP BY wk"
    )
    on_time, late = _fill(answers, "on_time"), _fill(answers, "late")
    return {
        "share": [o / (o + n) if o + n else None for o, n in zip(on_time, late, strict=True)],
        "late": list[float | None](late),
        "p50": [None if m is None else round(m, 1) for m in _fill_known(percentiles, "p50")],
        "p90": [None if m is None else round(m, 1) for m in _fill_known(percentiles, "p90")],
    }
