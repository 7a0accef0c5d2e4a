"""`python -m bot chat`: talk to a running server exactly as WeChat does.

Each line you type becomes a signed text message (encrypted in safe mode when an AES key is
configured, as the official account would send it); the passive reply is decrypted and printed.
A line `/photo` sends a photo (an image message) instead, as an agent sending materials does.
Pushes the server queued for you (customer-service messages, notices) are shown as they arrive
when the server runs with generated development credentials.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time

import aiohttp
from wechatpy.crypto import WeChatCrypto

from bot.settings import Settings, reveal
from bot.wechat.protocol import (
    build_event_xml,
    build_text_xml,
    encrypted_request,
    reply_content,
    signed_query,
)

ACCOUNT = "gh_legalaid_dev"  # ToUserName: the official account's original id
# A line that is one of these sends a photo (an image message) instead of text: agents send
# photos of materials, and a terminal has no camera.
PHOTO_COMMANDS = {"/photo", "/image", "/图片", "/照片"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("chat", help="chat with a running server as a WeChat user would")
    p.add_argument("--openid", default="u1", help="the user you play (default u1)")
    p.add_argument(
        "--url", help="server base URL, or its /wechat URL (default http://BOT_HOST:BOT_PORT)"
    )
    p.add_argument(
        "--event", help="send one event instead of chatting: subscribe, SCAN, unsubscribe, CLICK"
    )
    p.add_argument("--key", help="EventKey for --event (QR scene or menu key)")
    p.add_argument("--plain", action="store_true", help="send unencrypted (plain mode)")
    p.set_defaults(func=main)


class ServerRefused(Exception):
    """The server answered a message with an error status: wrong URL, token or key."""


def base_url(url: str) -> str:
    """The server's base URL; the webhook URL (…/wechat, as configured in the official account's
    admin) is accepted too, since that is the address people have at hand."""
    base = url.strip().rstrip("/")
    return base.removesuffix("/wechat") if base.endswith("/wechat") else base


class Client:
    def __init__(self, settings: Settings, base: str, openid: str, plain: bool) -> None:
        self.s, self.base, self.openid = settings, base_url(base), openid
        self.crypto = (
            None
            if plain or not settings.wechat_aes_key
            else WeChatCrypto(
                settings.token, reveal(settings.wechat_aes_key), settings.wechat_app_id or ""
            )
        )
        self.seen_push = 0

    async def send_xml(self, session: aiohttp.ClientSession, xml: str) -> str | None:
        if self.crypto:
            query, body = encrypted_request(
                self.crypto, self.s.token, xml, ACCOUNT, nonce=str(random.randint(10**8, 10**9))
            )
        else:
            query, body = signed_query(self.s.token), xml
        async with session.post(self.base + "/wechat", params=query, data=body.encode()) as r:
            text = await r.text()
            if r.status != 200:
                if text == "plain_refused":  # the server has an AES key: safe mode only
                    text += (
                        ": the server refuses plain requests; drop --plain, or start it "
                        "with BOT_WECHAT_ALLOW_PLAIN=true"
                    )
                raise ServerRefused(f"{self.base}/wechat answered HTTP {r.status}: {text[:200]}")
        return reply_content(self.crypto, query, text)

    async def say(self, session: aiohttp.ClientSession, text: str) -> str | None:
        if text.split(maxsplit=1)[0].lower() in PHOTO_COMMANDS:
            return await self.photo(session)
        xml = build_text_xml(self.openid, ACCOUNT, text, random.getrandbits(63))
        return await self.send_xml(session, xml)

    async def photo(self, session: aiohttp.ClientSession) -> str | None:
        """An image message as WeChat sends it when a user sends a photo: a MediaId and a
        PicUrl (made up here; with real credentials the server's fetch of it fails)."""
        media_id = f"dev-photo-{random.getrandbits(40):x}"
        xml = (
            "<xml>"
            f"<ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
            f"<FromUserName><![CDATA[{self.openid}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[image]]></MsgType>"
            f"<PicUrl><![CDATA[http://mmbiz.qpic.cn/{media_id}]]></PicUrl>"
            f"<MediaId><![CDATA[{media_id}]]></MediaId>"
            f"<MsgId>{random.getrandbits(63)}</MsgId></xml>"
        )
        return await self.send_xml(session, xml)

    async def event(
        self, session: aiohttp.ClientSession, event: str, key: str | None
    ) -> str | None:
        if event.lower() == "subscribe" and key and not key.startswith("qrscene_"):
            key = "qrscene_" + key
        return await self.send_xml(session, build_event_xml(self.openid, ACCOUNT, event, key))

    async def pushes(self, session: aiohttp.ClientSession) -> list[str]:
        """Pushes queued for this user (development servers only)."""
        try:
            async with session.get(
                self.base + "/dev/outbox", params={"openid": self.openid, "after": self.seen_push}
            ) as r:
                if r.status != 200:
                    return []
                items = (await r.json())["items"]
        except aiohttp.ClientError:
            return []
        if items:
            self.seen_push = items[-1]["id"]
        return [i["text"] for i in items if i.get("text")]


def main(args: argparse.Namespace) -> int:
    settings = Settings().resolve_dev_defaults()
    base = args.url or f"http://{settings.host}:{settings.port}"
    client = Client(settings, base, args.openid, args.plain)
    try:
        return asyncio.run(run(client, args))
    except (KeyboardInterrupt, EOFError):
        return 0
    except aiohttp.ClientConnectorError:
        print(f"cannot reach {base}: is `python -m bot serve` running?", file=sys.stderr)
        return 1
    except ServerRefused as exc:
        # a 404 is a wrong --url, a 403 a token or AES key other than the server's
        print(
            f"{exc}\nis {client.base} the bot's address, with the same BOT_WECHAT_TOKEN and "
            "BOT_WECHAT_AES_KEY?",
            file=sys.stderr,
        )
        return 1


async def run(client: Client, args: argparse.Namespace) -> int:
    async with aiohttp.ClientSession() as session:
        client.seen_push = await _latest_push(client, session)
        if args.event:
            show(await client.event(session, args.event, args.key))
            await asyncio.sleep(1.5)  # give the dispatcher a moment, then show pushes
            for push in await client.pushes(session):
                show(push, prefix="[push] ")
            return 0
        interactive = sys.stdin.isatty()
        poller = asyncio.create_task(poll(client, session)) if interactive else None
        if interactive:
            print(
                f"Chatting as {client.openid} with {client.base}/wechat. /photo sends a "
                "photo. Ctrl-D to quit."
            )
        loop = asyncio.get_running_loop()
        try:
            while True:
                if interactive:
                    print("> ", end="", flush=True)
                line = await loop.run_in_executor(None, sys.stdin.readline)
                if not line:
                    break
                if line.strip():
                    show(await client.say(session, line.strip()))
        finally:
            if poller:
                poller.cancel()
        if not interactive:
            await asyncio.sleep(1.5)
            for push in await client.pushes(session):
                show(push, prefix="[push] ")
    return 0


async def _latest_push(client: Client, session: aiohttp.ClientSession) -> int:
    """Start after the pushes already there, so only new ones are shown."""
    await client.pushes(session)
    return client.seen_push


async def poll(client: Client, session: aiohttp.ClientSession) -> None:
    while True:
        await asyncio.sleep(2)
        for push in await client.pushes(session):
            print()
            show(push, prefix="[push] ")
            print("> ", end="", flush=True)


def show(text: str | None, prefix: str = "") -> None:
    print(prefix + (text if text is not None else "(no reply)"), flush=True)
