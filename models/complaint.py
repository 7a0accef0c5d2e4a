"""Complaints (投诉) filed in the official account, and their procedure (DOMAIN §3, 投诉处理办法).

One record per complaint (一事一卷). Received -> accepted or not_accepted (reason) within
`complaint_accept_working_days` working days; accepted -> investigating -> concluded (result)
within `complaint_conclude_days` days of acceptance, extendable once by at most
`complaint_extend_max_days` days with a reason. Every step is told to the complainant through
the outbox, in their language, and reported to the centre as complaint.updated.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

from i18n import t
from models.calendar import add_working_days
from models.keystore import stored_key
from models.masking import ALERT_TEXT_MAX, scrub
from models.pushes import CenterEvent, Push, StaffAlert, UserNotice
from models.tickets import ticket_for

log = logging.getLogger(__name__)
TEXT_MAX = 1000  # characters kept of a complaint's text; longer ones are cut, with a message
PHOTOS_MAX = 9  # one WeChat multi-select; more photos can go to the centre directly


class ComplaintStatus(StrEnum):
    RECEIVED = "received"
    ACCEPTED = "accepted"
    NOT_ACCEPTED = "not_accepted"
    INVESTIGATING = "investigating"
    EXTENDED = "extended"
    CONCLUDED = "concluded"


S = ComplaintStatus
TRANSITIONS: dict[str, frozenset[ComplaintStatus]] = {
    S.RECEIVED: frozenset({S.ACCEPTED, S.NOT_ACCEPTED}),
    S.ACCEPTED: frozenset({S.INVESTIGATING, S.EXTENDED, S.CONCLUDED}),
    S.INVESTIGATING: frozenset({S.EXTENDED, S.CONCLUDED}),
    S.EXTENDED: frozenset({S.INVESTIGATING, S.CONCLUDED}),
}
STEP_NEEDS: dict[str, tuple[str, ...]] = {  # what a step must come with (Order 149)
    S.NOT_ACCEPTED: ("reason",),
    S.EXTENDED: ("reason", "days"),
    S.CONCLUDED: ("result",),
}
ABOUT = ("handler", "centre", "firm", "other")  # 承办人员 / 法律援助中心 / 律所或法律服务所 / 其他
GROUNDS = ("money", "delay", "attitude", "no_progress", "privacy", "duty", "other")


class Complaint(Model):
    id = fields.IntField(primary_key=True)
    # unique; null only inside the transaction that inserts the row (models.tickets)
    ticket = fields.CharField(max_length=16, unique=True, null=True)
    region = fields.CharField(max_length=12, db_index=True)
    openid = fields.CharField(max_length=64, null=True, db_index=True)  # the complainant
    locale = fields.CharField(max_length=8, default="zh_CN")
    about = fields.CharField(max_length=16, default="other")
    case = fields.ForeignKeyField(
        "models.Case", related_name="complaints", null=True, on_delete=fields.OnDelete.SET_NULL
    )
    grounds = fields.CharField(max_length=16, default="other")
    text = fields.TextField()
    photos = fields.JSONField(default=list)  # [{media_id, pic_url}]
    source = fields.CharField(max_length=16, default="chat_form")  # chat_form | chat_command
    status = fields.CharField(max_length=16, default=ComplaintStatus.RECEIVED, db_index=True)
    received_on = fields.DateField()
    accept_due = fields.DateField()
    accepted_on = fields.DateField(null=True)
    conclude_due = fields.DateField(null=True)
    extended_days = fields.IntField(default=0)
    reason: str | None = fields.TextField(null=True)  # why not accepted, or why extended
    result: str | None = fields.TextField(null=True)
    decided_on = fields.DateField(null=True)  # not accepted or concluded
    handled_by = fields.CharField(max_length=30, null=True)
    bureau = fields.CharField(max_length=60, null=True)  # the 司法局 told of it (its unit name)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True, db_index=True)

    class Meta:
        table = "complaint"


def normalize_ticket(raw: str) -> str:
    """What people type for a ticket (full-width digits, spaces, dashes) -> the stored form."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", raw or "") if ch.isdigit())[:16]


TICKET_KEY = "complaint_ticket"  # models.keystore name of the tickets' permutation key


async def assign_ticket(c: Complaint, conn: BaseDBAsyncClient) -> str:
    """Gives a just-inserted complaint its ticket, derived from its id (models.tickets): unique
    by construction, so nothing is drawn at random, retried, or looped over."""
    c.ticket = ticket_for(c.id, await stored_key(TICKET_KEY, conn))
    await Complaint.filter(id=c.id).using_db(conn).update(ticket=c.ticket)
    return c.ticket


async def filed_today(openid: str, today: date, conn: BaseDBAsyncClient) -> int:
    return await Complaint.filter(openid=openid, received_on=today).using_db(conn).count()


def accept_due(received_on: date, policy) -> date:
    return add_working_days(
        received_on,
        policy.complaint_accept_working_days,
        extra_holidays=policy.extra_holidays,
        extra_workdays=policy.extra_workdays,
    )


def status_text(c: Complaint, locale: str) -> str:
    """One short paragraph saying where the complaint stands, for its complainant."""
    fields_ = {
        "ticket": c.ticket,
        "accept_due": fmt_date(c.accept_due, locale),
        "conclude_due": fmt_date(c.conclude_due, locale),
        "reason": c.reason or "",
        "result": c.result or "",
        "days": c.extended_days,
        "received_on": fmt_date(c.received_on, locale),
        "bureau": bureau_name(c, locale),
    }
    return t(f"complaint.status.{c.status}", locale, **fields_)


def bureau_name(c: Complaint, locale: str) -> str:
    """The justice bureau handling the complaint, as the complainant reads it."""
    return c.bureau or t("complaint.bureau.default", locale)


def fmt_date(d: date | None, locale: str) -> str:
    if d is None:
        return ""
    return f"{d.year}年{d.month}月{d.day}日" if locale != "en" else d.isoformat()


@dataclass(frozen=True, slots=True)
class StepProblem:
    """Why a step cannot be taken: `conflict` (409: not a legal next step) or a missing or bad
    `field` (422); `key` and `params` give the localized text."""

    conflict: bool
    field: str | None
    key: str
    params: dict


def step_problem(
    c: Complaint, status: str, *, reason: str | None, result: str | None, days: int | None, policy
) -> StepProblem | None:
    """Whether `status` is a legal next step of `c` with what that step needs (shared by the
    centre API and the bureau's chat commands)."""
    if status == S.EXTENDED and c.extended_days:
        return StepProblem(True, None, "complaint.error.extend_once", {})
    if status not in TRANSITIONS.get(c.status, ()):
        return StepProblem(
            True, None, "complaint.error.transition", {"current": c.status, "wanted": status}
        )
    given = {"reason": reason, "result": result, "days": days}
    for name in STEP_NEEDS.get(status, ()):
        if given[name] in (None, ""):
            return StepProblem(False, name, f"complaint.error.{name}_required", {})
    if status == S.EXTENDED and days > policy.complaint_extend_max_days:
        return StepProblem(
            False, "days", "complaint.error.extend_max", {"max": policy.complaint_extend_max_days}
        )
    return None


def notify_due(c: Complaint, policy) -> date | None:
    """When the written decision must have reached the complainant and the party complained
    about: `complaint_notify_working_days` working days after it (Order 149 Art. 24)."""
    if c.decided_on is None:
        return None
    return add_working_days(
        c.decided_on,
        policy.complaint_notify_working_days,
        extra_holidays=policy.extra_holidays,
        extra_workdays=policy.extra_workdays,
    )


async def transition(
    c: Complaint,
    status: str,
    *,
    today: date,
    policy,
    conn: BaseDBAsyncClient,
    reason: str | None = None,
    result: str | None = None,
    days: int | None = None,
    handled_by: str | None = None,
    now: datetime,
) -> list[Push]:
    """Apply one step (validated by the caller); returns the pushes the caller queues in the
    same transaction: the complainant is told (in their language), the event reported."""
    if status == S.ACCEPTED:
        c.accepted_on = today
        c.conclude_due = today + timedelta(days=policy.complaint_conclude_days)
    elif status == S.NOT_ACCEPTED:
        c.reason, c.decided_on = reason, today
    elif status == S.EXTENDED:
        c.extended_days += days or 0
        c.conclude_due = (c.conclude_due or today) + timedelta(days=days or 0)
        c.reason = reason
    elif status == S.CONCLUDED:
        c.result, c.decided_on = result, today
    c.status = status
    c.handled_by = handled_by or c.handled_by
    await c.save(using_db=conn)
    step = f"{status}:{c.extended_days}" if status == S.EXTENDED else status
    pushes: list[Push] = []
    if c.openid:
        pushes.append(
            UserNotice(
                openid=c.openid,
                key=f"complaint:{c.id}:{step}",
                text=status_text(c, c.locale),
                kind="complaint",
                region=c.region,
            )
        )
    pushes.append(
        CenterEvent(
            event_type="complaint.updated",
            key=f"complaint:{c.id}:{step}",
            region=c.region,
            data=event_data(c) | {"at": now.isoformat()},
        )
    )
    return pushes


def event_data(c: Complaint) -> dict:
    return {
        "ticket": c.ticket,
        "status": c.status,
        "about": c.about,
        "grounds": c.grounds,
        "text": c.text,
        "photos": len(c.photos or []),
        "accept_due": _iso(c.accept_due),
        "conclude_due": _iso(c.conclude_due),
        "reason": c.reason,
        "result": c.result,
        "extended_days": c.extended_days,
    }


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d else None


async def file(
    *,
    openid: str,
    locale: str,
    region: str,
    text: str,
    today: date,
    now: datetime,
    policy,
    conn: BaseDBAsyncClient,
    about: str = "other",
    grounds: str = "other",
    case_id: int | None = None,
    photos: list | None = None,
    source: str = "chat_form",
) -> tuple[Complaint, list[Push]]:
    """Record a complaint (received today); returns it and the pushes the caller queues in the
    same transaction: the alert to the justice bureau, the complaint.created event.

    The bureau decides complaints (Order 149 Arts. 3, 5). One about a handler or a firm also
    goes to the centre's supervisors, who help investigate; one about the centre goes to the
    bureau only. With no bureau registered for the region (nor its city or province) the
    centre's supervisors get it with an instruction to pass it on, and a warning is logged.
    """
    from models.bureau import find_bureau

    bureau = await find_bureau(region, conn)
    c = await Complaint.create(
        ticket=None,
        region=region,
        openid=openid,
        locale=locale,
        about=about,
        grounds=grounds,
        case_id=case_id,
        text=text[:TEXT_MAX],
        photos=(photos or [])[:PHOTOS_MAX],
        source=source,
        received_on=today,
        accept_due=accept_due(today, policy),
        bureau=bureau.unit if bureau else None,
        using_db=conn,
    )
    await assign_ticket(c, conn)
    case_no = None
    if case_id is not None:
        from models.case import Case

        case_no = await Case.filter(id=case_id).using_db(conn).values_list("case_no", flat=True)
    lines = [
        f"编号：{c.ticket}",
        f"对象：{t('complaint.about.' + about, 'zh_CN')}",
        f"事由：{t('complaint.grounds.' + grounds, 'zh_CN')}",
        *([f"案件：{case_no[0]}"] if case_no else []),
        f"内容：{scrub(c.text, free_text=True, limit=ALERT_TEXT_MAX)}",
        f"照片：{len(c.photos)} 张",
        f"受理期限：{c.accept_due.isoformat()}",
    ]
    key, page = f"complaint:{c.id}", f"complaints/{c.ticket}"
    pushes: list[Push] = []
    if bureau is not None:
        pushes.append(
            StaffAlert(
                region=bureau.region,
                key=key,
                title="新投诉",
                lines=(*lines, t("complaint.bureau.how", "zh_CN", ticket=c.ticket)),
                bureau=True,
                kind="complaint-alert",
                page=page,
            )
        )
    else:
        log.warning(
            "no justice bureau registered for region %s (staff add --role bureau): "
            "complaint %s goes to the centre's supervisors to pass on",
            region,
            c.id,
        )
        lines.append(t("complaint.bureau.missing", "zh_CN"))
    if bureau is None or about != "centre":
        pushes.append(
            StaffAlert(
                region=region,
                key=key,
                title="新投诉",
                lines=tuple(lines),
                kind="complaint-alert",
                page=page,
                supervisors=True,
            )
        )
    pushes.append(
        CenterEvent(
            event_type="complaint.created",
            key=f"complaint:{c.id}",
            region=region,
            data=event_data(c)
            | {"case_no": case_no[0] if case_no else None, "at": now.isoformat()},
        )
    )
    return c, pushes
