"""Load benchmark of the WeChat webhook: the real server against the bare floor (bench.bare).

Both targets run as subprocesses with the same generated credentials. The requests are built
before the clock starts, exactly as WeChat sends them in safe mode, one unique MsgId each, from
`--users` distinct openids, contents cycling through a few global commands. The clock-skew check
is turned off (BOT_WECHAT_MAX_CLOCK_SKEW=0) so the pre-built timestamps stay valid.

    python -m bench.webhook --requests 4000 --users 400 --concurrency 16 [--database-url URL]

An error is a non-200 answer, a failed request, or a reply that does not decrypt to a message
for the sender. Other BOT_* variables in the environment reach the server (e.g.
BOT_BACKGROUND=false to run it without the outbox dispatcher and scheduler).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import hashlib
import secrets
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

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
) -> Row:
    idle = target.rss_mb()  # started and answering /healthz, nothing handled yet
    if warmup:
        asyncio.run(fire(target.base_url, warmup, concurrency))
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
        "rss idle MB": idle[0] if idle else float("nan"),
        "rss load MB": loaded[1] if loaded else float("nan"),
    }


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
) -> list[Row]:
    """Benchmark each target in turn (never two at once: they would share the CPUs)."""
    creds = Credentials.generate()
    rows = []
    for name in targets:
        # Fresh messages per target: the server dedupes by MsgId, a repeat would be cheaper.
        prepared = build_requests(creds, warmup + requests, users)
        with scratch_dir(f"bench-{name}-") as workdir:
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
                with serve(name, target_args(name, port), env, port, workdir) as target:
                    print(
                        f"[{name}] {warmup} warm-up + {requests} requests, "
                        f"concurrency {concurrency}",
                        file=sys.stderr,
                    )
                    rows.append(
                        measure(
                            name, target, creds, prepared[:warmup], prepared[warmup:], concurrency
                        )
                    )
            except StartupError as exc:
                print(f"[{name}] {exc}", file=sys.stderr)
                rows.append({"target": name, "errors": "did not start"})
            problems = log_problems(workdir / f"{name}.log")
            if problems:
                print(
                    f"[{name}] {len(problems)} suspicious log lines, first ones:", file=sys.stderr
                )
                print("\n".join(problems[:10]), file=sys.stderr)
    bare = next((r for r in rows if r["target"] == "bare"), None)
    for row in rows:
        measured = bare and "req/s" in bare and "req/s" in row
        row["ratio vs bare"] = f"{row['req/s'] / bare['req/s']:.2f}x" if measured else "-"
        # bare's CPU per request over this one's: the throughput ratio if both were bound by
        # the CPU alone ("-" when /proc gave no figure: NaN compares false)
        cpu_known = measured and bare["cpu us/req"] > 0 and row["cpu us/req"] > 0
        row["cpu ratio"] = f"{bare['cpu us/req'] / row['cpu us/req']:.2f}x" if cpu_known else "-"
    return rows


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
    args = parser.parse_args(argv)
    targets = TARGETS if args.target == "both" else (args.target,)
    rows = run(args.requests, args.users, args.concurrency, args.database_url, targets, args.warmup)
    print(format_table(rows, "WeChat webhook (safe mode, text messages)"))
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
