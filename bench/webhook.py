"""Load benchmark of the WeChat webhook: the real server against the bare floor (bench.bare).

Both targets run as subprocesses with the same generated credentials. The requests are built
before the clock starts, exactly as WeChat sends them in safe mode, one unique MsgId each, from
`--users` distinct openids, contents cycling through a few global commands. The clock-skew check
is turned off (BOT_WECHAT_MAX_CLOCK_SKEW=0) so the pre-built timestamps stay valid.

    python -m bench.webhook --requests 4000 --users 400 --concurrency 16 [--database-url URL]
        [--rounds 3]

Both targets are started first and then loaded in turn, `--rounds` times (fresh users and
MsgIds each round); each figure is the median over the rounds, and the ratios the median of
each round's ratios: a busy minute of a shared machine falls on one round of both targets
rather than on one target's whole run.

An error is a non-200 answer, a failed request, or a reply that does not decrypt to a message
for the sender. Other BOT_* variables in the environment reach the server (e.g.
BOT_BACKGROUND=false to run it without the outbox dispatcher and scheduler).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextlib
import hashlib
import secrets
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import xmltodict
from wechatpy.crypto import WeChatCrypto
from yarl import URL

from bench.common import (
    Row,
    StartupError,
    Target,
    format_table,
    free_port,
    log_problems,
    percentile,
    scratch_dir,
    serve,
)

CONTENTS = ("菜单", "帮助", "1", "取消")  # global commands and a numbered answer: the common path
DEFAULT_REQUESTS = 4000
DEFAULT_USERS = 400  # 10 messages each: under the 30/min per-openid limit (BOT_CHAT_RATE_LIMIT)
DEFAULT_CONCURRENCY = 16
DEFAULT_WARMUP = 200  # first connections, imports, caches and the first DB pages; not measured
DEFAULT_ROUNDS = 3  # the targets loaded in turn, so both see the same minutes of the machine
REQUEST_TIMEOUT = 30.0  # seconds; WeChat gives up after 5 s, but we want the latency, not a cut-off
TARGETS = ("bare", "server")
REPLIES_SHOWN = 6  # distinct reply texts printed per target, to spot an apology answering all


@dataclass(frozen=True)
class Credentials:
    """One official account's secrets, shared by the targets (env) and the client (crypto)."""

    token: str
    aes_key: str  # EncodingAESKey: 43 base64 characters = 32 bytes
    app_id: str
    account: str  # the account's gh_ id: ToUserName of inbound messages
    secret_key: str

    @classmethod
    def generate(cls) -> Credentials:
        return cls(
            token="bench" + secrets.token_hex(8),
            aes_key=base64.b64encode(secrets.token_bytes(32)).decode()[:43],
            app_id="wxbench" + secrets.token_hex(5),
            account="gh_" + secrets.token_hex(6),
            secret_key=secrets.token_urlsafe(32),
        )

    def env(self) -> dict[str, str]:
        return {
            "BOT_WECHAT_TOKEN": self.token,
            "BOT_WECHAT_AES_KEY": self.aes_key,
            "BOT_WECHAT_APP_ID": self.app_id,
            "BOT_SECRET_KEY": self.secret_key,
        }

    def crypto(self) -> WeChatCrypto:
        return WeChatCrypto(self.token, self.aes_key, self.app_id)


@dataclass(frozen=True)
class Prepared:
    url: str  # path and query, e.g. /wechat?signature=...
    body: bytes
    openid: str


def build_requests(creds: Credentials, count: int, users: int) -> list[Prepared]:
    """`count` safe-mode text messages as WeChat posts them, with unique MsgIds."""
    crypto = creds.crypto()
    # 28 characters, the length of WeChat's openids
    openids = ["o" + secrets.token_urlsafe(21)[:27] for _ in range(users)]
    first_msg_id = 24_000_000_000_000_000 + secrets.randbelow(10**15)  # 64-bit ids, like WeChat's
    now = int(time.time())
    prepared = []
    for i in range(count):
        openid, content = openids[i % users], CONTENTS[(i // users) % len(CONTENTS)]
        plain = (
            f"<xml><ToUserName><![CDATA[{creds.account}]]></ToUserName>"
            f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{now}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{content}]]></Content><MsgId>{first_msg_id + i}</MsgId></xml>"
        )
        timestamp, nonce = str(now), str(secrets.randbelow(10**10))
        # encrypt_message gives Encrypt and msg_signature = sha1(sorted token, ts, nonce, Encrypt)
        envelope = xmltodict.parse(crypto.encrypt_message(plain, nonce, timestamp))["xml"]
        signature = hashlib.sha1("".join(sorted([creds.token, timestamp, nonce])).encode())
        query = {
            "signature": signature.hexdigest(),
            "timestamp": timestamp,
            "nonce": nonce,
            "openid": openid,
            "encrypt_type": "aes",
            "msg_signature": envelope["MsgSignature"],
        }
        body = (
            f"<xml><ToUserName><![CDATA[{creds.account}]]></ToUserName>"
            f"<Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>"
        )
        url = "/wechat?" + "&".join(f"{k}={v}" for k, v in query.items())
        prepared.append(Prepared(url, body.encode(), openid))
    return prepared


@dataclass(frozen=True)
class Outcome:
    status: int  # 0: the request itself failed (connection, timeout); body says why
    body: bytes
    latency: float  # seconds


async def fire(
    base_url: str, requests: Sequence[Prepared], concurrency: int
) -> tuple[float, list[Outcome]]:
    """Send all requests, at most `concurrency` in flight; return wall time and outcomes in order.

    `concurrency` workers pull from one queue (same effect as a semaphore over N tasks, without
    N pending tasks competing for the client's share of the CPU).
    """
    outcomes: list[Outcome | None] = [None] * len(requests)
    todo = iter(enumerate(requests))
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    headers = {"Content-Type": "text/xml"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(base_url, connector=connector, timeout=timeout) as session:

        async def worker() -> None:
            for i, req in todo:
                start = time.perf_counter()
                try:
                    url = URL(req.url, encoded=True)  # built by us: skip re-quoting
                    async with session.post(url, data=req.body, headers=headers) as resp:
                        body = await resp.read()
                        status = resp.status
                except (TimeoutError, aiohttp.ClientError) as exc:
                    status, body = 0, type(exc).__name__.encode()
                outcomes[i] = Outcome(status, body, time.perf_counter() - start)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return elapsed, [o for o in outcomes if o is not None]


def check_reply(crypto: WeChatCrypto, req: Prepared, out: Outcome) -> tuple[str | None, str]:
    """(why the answer is wrong or None, reply text): it must be 200 and decrypt to a reply to
    the sender."""
    if out.status == 0:
        return f"request failed ({out.body.decode()})", ""
    if out.status != 200:
        return f"HTTP {out.status}", ""
    if out.body.strip() in (b"", b"success"):
        return "no reply (empty/success)", ""
    try:
        envelope = xmltodict.parse(out.body)["xml"]
        if "Encrypt" not in envelope:
            return "reply not encrypted", ""
        plain = crypto.decrypt_message(
            envelope, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"]
        )
        reply = xmltodict.parse(plain)["xml"]
    except Exception:
        return "reply does not decrypt", ""
    text = str(reply.get("Content") or reply.get("MsgType"))
    return (None if reply.get("ToUserName") == req.openid else "reply to the wrong user"), text


def measure(
    name: str,
    target: Target,
    creds: Credentials,
    warmup: Sequence[Prepared],
    requests: Sequence[Prepared],
    concurrency: int,
    database_url: str | None = None,
) -> Row:
    """One round against a running target: the warm-up, then the requests, timed."""
    if warmup:
        asyncio.run(fire(target.base_url, warmup, concurrency))
    if database_url:
        asyncio.run(analyze(database_url))
    cpu_before = target.cpu_seconds()
    elapsed, outcomes = asyncio.run(fire(target.base_url, requests, concurrency))
    cpu_after = target.cpu_seconds()
    loaded = target.rss_mb()
    crypto = creds.crypto()
    checked = [check_reply(crypto, q, o) for q, o in zip(requests, outcomes, strict=True)]
    reasons = collections.Counter(why for why, _ in checked if why)
    if reasons:
        detail = ", ".join(f"{why} x{n}" for why, n in reasons.most_common())
        print(f"[{name}] errors: {detail}", file=sys.stderr)
    # The replies' first lines: an apology on every message would be 200 and decrypt fine.
    texts = collections.Counter(text.split("\n")[0][:40] for why, text in checked if not why)
    for text, n in texts.most_common(REPLIES_SHOWN):
        print(f"[{name}] reply x{n}: {text}", file=sys.stderr)
    latencies = sorted(o.latency for o in outcomes)
    return {
        "target": name,
        "requests": len(requests),
        "concurrency": concurrency,
        "req/s": len(requests) / elapsed,
        "p50 ms": percentile(latencies, 50) * 1000,
        "p99 ms": percentile(latencies, 99) * 1000,
        "errors": sum(reasons.values()),
        # the target's CPU time per request: steadier than req/s on a shared machine
        "cpu us/req": (cpu_after - cpu_before) / len(requests) * 1e6
        if cpu_before is not None and cpu_after is not None
        else float("nan"),
        # resident memory per process: at start, and its peak over the load
        "rss load MB": loaded[1] if loaded else float("nan"),
    }


async def analyze(database_url: str) -> None:
    """Fresh planner statistics, as autovacuum keeps them on a live database (it is off on
    some test machines, and a table grown from empty in seconds would keep the plans made for
    an empty table: a sequential scan per batch). Run after each round's warm-up. ANALYZE also makes the server's connections
    plan their statements again."""
    import asyncpg  # the server's own driver

    conn = await asyncpg.connect(
        database_url.split("?")[0].replace("postgres://", "postgresql://", 1)
    )
    try:
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def combine(samples: Sequence[Row], idle_mb: float) -> Row:
    """A target's rounds in one row: the median of each timing, the errors of all, the
    memory at start and its peak over every round."""
    row = dict(samples[0])
    for key in ("req/s", "p50 ms", "p99 ms", "cpu us/req"):
        row[key] = statistics.median(float(r[key]) for r in samples)
    row["errors"] = sum(int(r["errors"]) for r in samples)
    row.pop("rss load MB")  # after the idle figure, as the columns were
    row["rss idle MB"] = idle_mb
    row["rss load MB"] = max(float(r["rss load MB"]) for r in samples)
    row["rounds"] = len(samples)
    return row


def target_args(name: str, port: int) -> list[str]:
    if name == "bare":
        return ["-m", "bench.bare", "--host", "127.0.0.1", "--port", str(port)]
    return ["-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)]


def run(
    requests: int = DEFAULT_REQUESTS,
    users: int = DEFAULT_USERS,
    concurrency: int = DEFAULT_CONCURRENCY,
    database_url: str | None = None,
    targets: Sequence[str] = TARGETS,
    warmup: int = DEFAULT_WARMUP,
    rounds: int = DEFAULT_ROUNDS,
) -> list[Row]:
    """Start every target, then load them in turn, round after round (never two at once: they
    would share the CPUs). A round is a warm-up and the measured requests, with fresh users
    and MsgIds (the server dedupes; a repeat would be cheaper). Each row gives the medians of
    its target's rounds; the ratios are the medians of each round's ratios, so a slow minute
    of a shared machine weighs on one round of both targets rather than on one target.
    """
    creds = Credentials.generate()
    rows: list[Row] = []
    with contextlib.ExitStack() as stack:
        running: dict[str, tuple[Target, float]] = {}
        for name in targets:
            workdir = stack.enter_context(scratch_dir(f"bench-{name}-"))
            stack.callback(_report_log, name, workdir / f"{name}.log")  # after it stops
            port = free_port()
            env = {
                **creds.env(),
                "BOT_DATA_DIR": str(workdir / "data"),
                "BOT_WECHAT_MAX_CLOCK_SKEW": "0",
                # Pushes the server queues go nowhere instead of to api.weixin.qq.com.
                "BOT_WECHAT_API_BASE": f"http://127.0.0.1:{free_port()}",
            }
            if database_url:
                env["BOT_DATABASE_URL"] = database_url
            print(f"[{name}] starting on port {port}", file=sys.stderr)
            try:
                target = stack.enter_context(
                    serve(name, target_args(name, port), env, port, workdir)
                )
            except StartupError as exc:
                print(f"[{name}] {exc}", file=sys.stderr)
                rows.append({"target": name, "errors": "did not start"})
                continue
            idle = target.rss_mb()  # started and answering /healthz, nothing handled yet
            running[name] = (target, idle[0] if idle else float("nan"))
        samples: dict[str, list[Row]] = {name: [] for name in running}
        for n in range(rounds):
            for name, (target, _) in running.items():
                prepared = build_requests(creds, warmup + requests, users)
                print(
                    f"[{name}] round {n + 1}/{rounds}: {warmup} warm-up + {requests} requests, "
                    f"concurrency {concurrency}",
                    file=sys.stderr,
                )
                sample = measure(
                    name,
                    target,
                    creds,
                    prepared[:warmup],
                    prepared[warmup:],
                    concurrency,
                    database_url if name == "server" and _is_postgres(database_url) else None,
                )
                samples[name].append(sample)
                print(
                    f"[{name}] round {n + 1}: {sample['req/s']:.0f} req/s, "
                    f"{sample['cpu us/req']:.0f} cpu us/req",
                    file=sys.stderr,
                )
        rows += [combine(samples[name], idle) for name, (_, idle) in running.items()]
    bare = samples.get("bare") if running else None
    for row in rows:
        mine = samples.get(str(row["target"])) if running else None
        row["ratio vs bare"] = row["cpu ratio"] = "-"
        if not bare or not mine:
            continue
        # each round's ratio, then their median: both targets ran within seconds of each other
        ratio = statistics.median(m["req/s"] / b["req/s"] for m, b in zip(mine, bare, strict=True))
        row["ratio vs bare"] = f"{ratio:.2f}x"
        # bare's CPU per request over this one's: the throughput ratio if both were bound by
        # the CPU alone ("-" when /proc gave no figure)
        cpu = [
            b["cpu us/req"] / m["cpu us/req"]
            for m, b in zip(mine, bare, strict=True)
            if m["cpu us/req"] > 0 and b["cpu us/req"] > 0
        ]
        if cpu:
            row["cpu ratio"] = f"{statistics.median(cpu):.2f}x"
    return rows


def _is_postgres(url: str | None) -> bool:
    return bool(url) and str(url).startswith(("postgres://", "postgresql://"))


def _report_log(name: str, path: Path) -> None:
    problems = log_problems(path)
    if problems:
        print(f"[{name}] {len(problems)} suspicious log lines, first ones:", file=sys.stderr)
        print("\n".join(problems[:10]), file=sys.stderr)


def default() -> list[Row]:
    """The benchmark with its defaults, for `python -m bench`."""
    return run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.webhook", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--requests", type=int, default=DEFAULT_REQUESTS)
    parser.add_argument("--users", type=int, default=DEFAULT_USERS, help="distinct openids")
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    parser.add_argument(
        "--warmup", type=int, default=DEFAULT_WARMUP, help="unmeasured requests sent first"
    )
    parser.add_argument(
        "--database-url", help="BOT_DATABASE_URL for the server (default: sqlite in a temp dir)"
    )
    parser.add_argument("--target", choices=(*TARGETS, "both"), default="both")
    parser.add_argument(
        "--rounds",
        type=int,
        default=DEFAULT_ROUNDS,
        help="rounds of load, the targets in turn; each figure is the median over them",
    )
    args = parser.parse_args(argv)
    targets = TARGETS if args.target == "both" else (args.target,)
    rows = run(
        args.requests,
        args.users,
        args.concurrency,
        args.database_url,
        targets,
        args.warmup,
        max(1, args.rounds),
    )
    print(format_table(rows, "WeChat webhook (safe mode, text messages)"))
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
