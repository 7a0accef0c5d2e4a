"""The floor of this stack: a bare aiohttp WeChat webhook with no database and no logic.

It checks the signature, decrypts (safe mode), parses with wechatpy and answers every message
with the same encrypted text reply. The real server cannot be faster than this; bench.webhook
reports the server's throughput as a ratio of this one's.

    BOT_WECHAT_TOKEN=... BOT_WECHAT_AES_KEY=... BOT_WECHAT_APP_ID=... python -m bench.bare --port P
"""

from __future__ import annotations

import argparse
import os
from xml.parsers.expat import ExpatError

from aiohttp import web
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

REPLY_TEXT = "收到"  # fixed: the floor does no routing


def create_app(token: str, aes_key: str, app_id: str) -> web.Application:
    crypto = WeChatCrypto(token, aes_key, app_id)

    async def wechat(request: web.Request) -> web.Response:
        query = request.query
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        try:
            check_signature(token, query.get("signature", ""), timestamp, nonce)
        except InvalidSignatureException:
            raise web.HTTPForbidden() from None
        body = await request.read()
        encrypted = query.get("encrypt_type") == "aes"
        try:
            if encrypted:
                body = crypto.decrypt_message(body, query["msg_signature"], timestamp, nonce)
            message = parse_message(body)
        except (InvalidSignatureException, InvalidAppIdException):
            raise web.HTTPForbidden() from None
        except (KeyError, ValueError, ExpatError):
            raise web.HTTPBadRequest() from None
        reply = TextReply(message=message, content=REPLY_TEXT).render()
        if encrypted:
            reply = crypto.encrypt_message(reply, nonce)
        return web.Response(text=reply, content_type="application/xml")

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/wechat", wechat)
    app.router.add_get("/healthz", healthz)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bare", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args(argv)
    app = create_app(
        os.environ["BOT_WECHAT_TOKEN"],
        os.environ["BOT_WECHAT_AES_KEY"],
        os.environ["BOT_WECHAT_APP_ID"],
    )
    web.run_app(app, host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
