"""What the benchmarks share: starting a target as a subprocess, percentiles, the result table."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 60.0  # seconds; the server migrates a fresh sqlite file on first start
LOG_TAIL_LINES = 40  # enough to show a traceback when a target fails to start

Row = dict[str, object]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serve(
    name: str, args: Sequence[str], env: Mapping[str, str], port: int, workdir: Path
) -> Iterator[Target]:
    """Run `python <args>` until GET /healthz answers 200; yield it (URL, pid); stop it after.

    The process runs in `workdir` (so a developer's .env in the repo is not read) with the repo
    on PYTHONPATH, in its own process group (so workers it forks are stopped with it). Its
    output goes to `workdir/<name>.log`; the tail is printed when start-up fails.
    """
    log_path = workdir / f"{name}.log"
    full_env = {**os.environ, **env}
    full_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p
    )
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, *args],
            cwd=workdir,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        base_url = f"http://127.0.0.1:{port}"
        _wait_healthy(name, proc, base_url + "/healthz", log_path)
        yield Target(base_url, proc.pid)
    finally:
        _stop(proc)


@dataclass(frozen=True)
class Target:
    base_url: str
    pid: int  # also its process group: workers it forks are in it

    def cpu_seconds(self) -> float | None:
        """CPU time (user + system) used so far by the target's processes; None off Linux.

        Unlike throughput, this hardly moves when a neighbour on a shared machine takes the
        CPU for a while, so it is the steadier figure to compare two versions by.
        """
        proc = Path("/proc")
        if not proc.is_dir():
            return None
        ticks = 0
        for stat in proc.glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # gone meanwhile
            if int(fields[2]) == self.pid:  # process group id
                ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> tuple[float, float] | None:
        """(resident MB now, peak resident MB) of the largest of the target's processes — per
        worker, as a host sizes them; None off Linux."""
        proc = Path("/proc")
        if not proc.is_dir():
            return None
        now = peak = 0
        for stat in proc.glob("[0-9]*/stat"):
            try:
                if int(stat.read_text().rsplit(")", 1)[1].split()[2]) != self.pid:
                    continue
                status = dict(
                    line.split(":", 1)
                    for line in (stat.parent / "status").read_text().splitlines()
                    if ":" in line
                )
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
            now = max(now, int(status.get("VmRSS", "0 kB").split()[0]))
            peak = max(peak, int(status.get("VmHWM", "0 kB").split()[0]))
        return now / 1024, peak / 1024


def _wait_healthy(name: str, proc: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StartupError(name, f"exited with {proc.returncode}", log_path)
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise StartupError(name, f"GET {url} not 200 within {STARTUP_TIMEOUT:.0f}s", log_path)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


class StartupError(RuntimeError):
    def __init__(self, name: str, why: str, log_path: Path) -> None:
        super().__init__(
            f"{name} did not start: {why}\n--- last lines of {log_path} ---\n" + log_tail(log_path)
        )


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text("utf-8", errors="replace")
    except FileNotFoundError:
        return "(no log)\n"
    return "\n".join(text.splitlines()[-lines:]) + "\n"


def log_problems(path: Path) -> list[str]:
    """Lines of a target's log that look like trouble (errors, tracebacks, warnings)."""
    try:
        text = path.read_text("utf-8", errors="replace")
    except FileNotFoundError:
        return []
    keys = ("Traceback", "ERROR", "CRITICAL", "Error:", "WARNING", "Warning:")
    return [line for line in text.splitlines() if any(k in line for k in keys)]


@contextlib.contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield Path(tmp)


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending sequence (NaN when empty)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * pct // 100))  # ceil without floats drifting
    return sorted_values[min(len(sorted_values), int(rank)) - 1]


def format_table(rows: Sequence[Row], title: str | None = None) -> str:
    """A plain-text table; columns in first-seen order, numbers right-aligned."""
    if not rows:
        return f"{title}: no results" if title else "no results"
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    cells = [[_cell(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    numeric = [all(_is_number(row.get(c)) for row in rows if c in row) for c in columns]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    out = [title] if title else []
    out += [line(columns), line(["-" * w for w in widths]), *(line(r) for r in cells)]
    return "\n".join(out)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.1f}" if value == value else "-"  # NaN -> "-"
    return str(value)
