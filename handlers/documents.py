"""Issuing formal documents: what each one says, its number, its stored file (models.document).

The texts are the statutory ones, in Chinese whatever the reader's locale: these are legal
documents of a Chinese centre (SF/T 0024). The applicant's full name and ID number appear in the
file, which is personal data: it is stored through bot.storage, downloaded only with the region's
key or a short-lived signed link given to the filing agent, and never sent through WeChat's
servers itself (the agent gets a link).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TypedDict
from zoneinfo import ZoneInfo

from aiohttp import web
from tortoise.backends.base.client import BaseDBAsyncClient

from bot.keys import policy_key, settings_key
from bot.settings import Settings
from bot.storage import storage_key
from handlers.document_render import Letter, render
from i18n import t
from models.application import Application, Material
from models.document import SERIES, DocKind, Document, format_number, next_seq
from models.policy import Policy

log = logging.getLogger(__name__)
ZH = "zh_CN"
LINK_DAYS = 7  # long enough to print the letter at the applicant's home, short if forwarded
TOKEN_SIG = 32  # hex characters of the HMAC kept in the link
TITLES = {
    DocKind.DECISION_GRANT: "给予法律援助决定书",
    DocKind.DECISION_REFUSE: "不予法律援助决定书",
    DocKind.MATERIALS_NOTICE: "补充材料通知书",
    DocKind.ASSIGNMENT_NOTICE: "指派通知书",
    DocKind.TERMINATION: "终止法律援助决定书",
}
CONSEQUENCE = {  # policy materials_consequence (DOMAIN §1: before a decision / after 容缺受理)
    "withdrawn": "逾期未补充的，视为撤回申请。",
    "terminated": "逾期未补齐的，本中心可以终止法律援助。",
}


class _Heading(TypedDict):
    """The Letter fields every document fills the same way (the number comes on issue)."""

    issuer: str
    date: str
    number: str


def cn_date(d) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def objection_line(policy: Policy, decision: str) -> str:
    """Art. 49: where and how an objection goes, named after the region's bureau."""
    return (
        f"如对本{decision}有异议，可以向{policy.bureau_name}提出。{policy.bureau_name}应当自收到"
        "异议之日起五日内进行审查，作出维持本决定或者责令本中心改正的决定（《中华人民共和国"
        "法律援助法》第四十九条）。"
    )


def _who(application: Application) -> str:
    return f"{application.applicant_name}（公民身份号码：{application.applicant_id_number}）"


async def letter_for(
    kind: DocKind,
    policy: Policy,
    *,
    application: Application,
    today,
    tz: str,
    conn: BaseDBAsyncClient,
    assignment=None,
    handler=None,
    org=None,
    reason: str | None = None,
    note: str | None = None,
) -> Letter:
    """The text of one document of `kind` about `application`."""
    received = cn_date(application.received_at.astimezone(ZoneInfo(tz)).date())
    matter = t(f"matter.{application.matter}", ZH)
    base: _Heading = {"issuer": policy.centre_name, "date": cn_date(today), "number": ""}
    asked = f"你于{received}向本中心申请法律援助，申请事项：{matter}。"
    if kind is DocKind.DECISION_GRANT:
        ref = f"案件编号：{application.case_no}。" if application.case_no else ""
        return Letter(
            TITLES[kind],
            addressee=_who(application),
            **base,
            paragraphs=[
                asked
                + "经审查，你的申请符合《中华人民共和国法律援助法》规定的法律援助条件。根据该法"
                "第四十三条规定，本中心决定给予法律援助。" + ref,
                "本中心将依法指派律师、基层法律服务工作者等法律援助人员为你提供法律援助，承办人员确定后"
                "另行告知。请如实提供与案件有关的情况和材料，及时告知经济状况等的变化。",
            ],
        )
    if kind is DocKind.DECISION_REFUSE:
        return Letter(
            TITLES[kind],
            addressee=_who(application),
            **base,
            paragraphs=[
                asked
                + f"经审查，你的申请不符合法律援助条件，理由如下：{reason or '—'}。根据《中华人民"
                "共和国法律援助法》第四十三条规定，本中心决定不予法律援助。",
                objection_line(policy, "决定"),
            ],
        )
    if kind is DocKind.MATERIALS_NOTICE:
        items = [t(f"material.{k}", ZH) for k in await Material.owed_kinds(application.id, conn)]
        if reason:
            items.append(reason)
        due = application.materials_due or (today + timedelta(days=policy.materials_due_days))
        return Letter(
            TITLES[kind],
            addressee=_who(application),
            **base,
            items=items or ["—"],
            paragraphs=[
                asked + "经审查，尚需补充以下材料（一次性告知）：",
                f"请于{cn_date(due)}前向本中心补充提交上述材料。"
                + CONSEQUENCE[policy.materials_consequence],
            ],
        )
    if kind is DocKind.ASSIGNMENT_NOTICE:
        return Letter(
            TITLES[kind],
            addressee=org.name,
            **base,
            paragraphs=[
                f"本中心已决定给予{application.applicant_name}（联系电话：{application.applicant_phone}）"
                f"法律援助，申请事项：{matter}"
                + (f"，案件编号：{application.case_no}" if application.case_no else "")
                + "。根据"
                f"《中华人民共和国法律援助法》第四十三条规定，现指派你单位{handler.name}承办该案件。",
                f"请你单位于{cn_date(assignment.agreement_due)}前与受援人签订委托协议（《办理法律援助案件"
                "程序规定》第二十七条），并督促承办人员依法履行职责，及时报告案件进展。",
            ],
        )
    assert kind is DocKind.TERMINATION
    return Letter(
        TITLES[kind],
        addressee=_who(application),
        **base,
        paragraphs=[
            f"本中心决定给予你法律援助（申请事项：{matter}"
            + (f"，案件编号：{application.case_no}" if application.case_no else "")
            + "）。"
            f"因{reason}，根据《中华人民共和国法律援助法》第四十八条规定，本中心决定终止法律援助。"
            + (f"{note}" if note else ""),
            objection_line(policy, "决定"),
        ],
    )


async def issue(
    app: web.Application,
    kind: DocKind,
    letter: Letter,
    *,
    region: str,
    conn: BaseDBAsyncClient,
    application_id: int | None = None,
    case_id: int | None = None,
    assignment_id: int | None = None,
    replaces: Document | None = None,
) -> Document:
    """Number, render and store `letter`; record it (voiding `replaces`, a reissue)."""
    settings, policy = app[settings_key], app[policy_key]
    now = datetime.now(UTC)
    year = now.astimezone(ZoneInfo(settings.timezone)).year
    series = SERIES[kind]
    seq = await next_seq(region, series, year, conn)
    number = format_number(
        policy.document_numbers[series], abbr=policy.document_abbr, year=year, n=seq
    )
    data = await asyncio.to_thread(render, replace(letter, number=number))
    key = await app[storage_key].put(f"documents/{region}", "docx", data)
    doc = await Document.create(
        region=region,
        kind=kind.value,
        series=series,
        year=year,
        seq=seq,
        number=number,
        application_id=application_id,
        case_id=case_id,
        assignment_id=assignment_id,
        storage_key=key,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        issued_at=now,
        using_db=conn,
    )
    if replaces is not None:
        await (
            Document.filter(id=replaces.id)
            .using_db(conn)
            .update(voided_at=now, replaced_by_id=doc.id)
        )
    log.info("document %s issued: %s #%s", doc.id, kind.value, seq)
    return doc


async def void_live(kind: DocKind, *, conn: BaseDBAsyncClient, assignment_id: int) -> None:
    """Void the live document of `kind` tied to an assignment that ended (a conflict)."""
    await (
        Document.filter(kind=kind.value, assignment_id=assignment_id, voided_at=None)
        .using_db(conn)
        .update(voided_at=datetime.now(UTC))
    )


# --- the filing agent's link ------------------------------------------------------------------


def link_signature(settings: Settings, doc_id: int, expires: int) -> str:
    secret = settings.secret_key.get_secret_value() if settings.secret_key else ""
    mac = hmac.new(secret.encode(), f"doc:{doc_id}:{expires}".encode(), hashlib.sha256)
    return mac.hexdigest()[:TOKEN_SIG]


def agent_link(settings: Settings, doc: Document, now: float | None = None) -> str:
    """A link to download `doc` for LINK_DAYS, without a key (for the filing agent in chat)."""
    expires = int((now or time.time()) + LINK_DAYS * 86400)
    token = f"{doc.id}.{expires}.{link_signature(settings, doc.id, expires)}"
    return f"{settings.public_base_url.rstrip('/')}/api/v1/documents/{token}"
