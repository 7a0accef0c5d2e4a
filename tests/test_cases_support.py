"""Helpers shared by the case, callback, complaint, handoff and progress tests (no tests here).

Everything goes through the app: the centre API with a real key, the webhook with signed and
encrypted messages, the scheduler's own tick, the outbox's own dispatcher; the only fakes are
the WeChat server and the centre's receiver.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient

from bot import scheduler
from bot.auth import create_center_key
from models.outbox import OutboxMessage
from models.people import Staff
from tests.conftest import ACCOUNT

REGION = "611026"  # 柞水县
OTHER_REGION = "330602"
CUSTOM = "message/custom/send"
TZ = ZoneInfo("Asia/Shanghai")
PHONE, ID_NUMBER, NAME = "13812345678", "11010519491231002X", "张三丰"


def today() -> date:
    return datetime.now(TZ).date()


def case_body(**over) -> dict:
    body = {
        "region": REGION,
        "kind": "civil",
        "cause": "劳动报酬纠纷",
        "beneficiary": {"name": NAME, "phone": PHONE, "id_number": ID_NUMBER},
        "handler": {"name": "李律师", "org": "柞水县正义律师事务所"},
        "status": "closed",
        "closed_on": (today() - timedelta(days=1)).isoformat(),
    }
    body.update(over)
    return body


async def center_key(region: str = REGION) -> dict[str, str]:
    return {"X-Api-Key": await create_center_key(region)}


async def put_case(
    client: TestClient,
    key: dict,
    case_no: str = "柞法援民2026-12",
    expect: int | None = None,
    **over,
) -> dict:
    resp = await client.put(f"/api/v1/center/cases/{case_no}", json=case_body(**over), headers=key)
    if expect is not None:
        assert resp.status == expect, await resp.text()
    return await resp.json()


async def invite(client: TestClient, key: dict, case_no: str = "柞法援民2026-12", **body) -> dict:
    resp = await client.post(
        f"/api/v1/center/cases/{case_no}/callback-invitations", json=body, headers=key
    )
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def add_staff(
    name: str, openid: str, *, region: str = REGION, supervisor: bool = False, on_duty: bool = True
) -> Staff:
    return await Staff.create(
        name=name, region=region, openid=openid, supervisor=supervisor, on_duty=on_duty
    )


async def pushes_to(openid: str) -> list[str]:
    """Texts queued for one openid, oldest first (what `python -m bot chat` shows)."""
    rows = await OutboxMessage.filter(recipient=openid).order_by("id")
    return [r.payload.get("text", "") for r in rows]


def sent_to(fake_wechat, openid: str) -> list[str]:
    """Customer-service texts the fake WeChat server received for one openid."""
    return [b["text"]["content"] for b in fake_wechat.bodies(CUSTOM) if b["touser"] == openid]


def msg_xml(openid: str, msg_type: str, inner: str) -> str:
    return (
        f"<xml><ToUserName>{ACCOUNT}</ToUserName><FromUserName>{openid}</FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType>{msg_type}</MsgType>{inner}"
        f"<MsgId>{random.getrandbits(62)}</MsgId></xml>"
    )


def voice(openid: str, recognised: str) -> str:
    return msg_xml(
        openid,
        "voice",
        "<MediaId>m</MediaId><Format>amr</Format>"
        f"<Recognition><![CDATA[{recognised}]]></Recognition>",
    )


def image(openid: str, n: int = 1) -> str:
    return msg_xml(
        openid,
        "image",
        f"<PicUrl>http://mmbiz.example/p{n}.jpg</PicUrl><MediaId>media{n}</MediaId>",
    )


_event_clock = [int(time.time())]


def next_created() -> int:
    """A fresh CreateTime: WeChat dedupes events by sender + time + event."""
    _event_clock[0] += 1
    return _event_clock[0]


async def tick(client: TestClient, at: datetime) -> list[str]:
    """Run the scheduler as if it were `at` (jobs not run in that period yet)."""
    return await scheduler.tick(client.app, at)


def local(d: date, hh: int, mm: int = 0) -> datetime:
    return datetime(d.year, d.month, d.day, hh, mm, tzinfo=TZ).astimezone(UTC)
