"""Callbacks (回访) after a case closes: the Zhashui callback form as a record (DOMAIN §2).

One callback per closed case. It is due `policy.callback_delay_days` after closing (the
beneficiary gets the closing papers first); a bound beneficiary is invited in WeChat then; one
not answered in WeChat within `policy.callback_phone_after_days` goes on the staff's phone
worklist. Answers come from the chat survey (channel wechat) or from staff who phoned or
visited (phone, visit) — the same record either way, so coverage counts every channel.
The first completed answer stands: completing is a conditional update.

A callback invitation is a temporary QR code printed on the closing notice; its scene is
`cb:<token>` and it expires with the QR code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

from models.masking import ALERT_TEXT_MAX, mask_name, scrub
from models.pushes import CenterEvent, Push, StaffAlert

SCENE_PREFIX = "cb"  # QR scene "cb:<token>"; short, because scene strings are at most 64 chars
# Invitations go out in the morning of the due day, not at midnight: many beneficiaries are old.
INVITE_AT = time(9, 0)
DETAILS_MAX = 500  # characters of a 'details' or comments answer; the paper form has 2 lines


class CallbackStatus(StrEnum):
    SCHEDULED = "scheduled"  # waiting for its due time
    INVITED = "invited"  # the bound beneficiary was asked in WeChat
    PENDING_PHONE = "pending_phone"  # no answer in WeChat in time: staff phone or visit
    COMPLETED = "completed"


class CallbackChannel(StrEnum):
    WECHAT = "wechat"
    PHONE = "phone"
    VISIT = "visit"


CHANNEL_ZH = {
    CallbackChannel.WECHAT: "微信",
    CallbackChannel.PHONE: "电话",
    CallbackChannel.VISIT: "走访",
}


class Callback(Model):
    id = fields.IntField(primary_key=True)
    case = fields.OneToOneField(
        "models.Case", related_name="callback", on_delete=fields.OnDelete.CASCADE
    )
    region = fields.CharField(max_length=12, db_index=True)
    status = fields.CharField(max_length=16, default=CallbackStatus.SCHEDULED, db_index=True)
    due_at = fields.DatetimeField(db_index=True)
    invited_at = fields.DatetimeField(null=True)
    phone_at = fields.DatetimeField(null=True)  # when it moved to the phone worklist
    answered_at = fields.DatetimeField(null=True)
    channel = fields.CharField(max_length=8, null=True)
    called_by = fields.CharField(max_length=30, null=True)  # staff who phoned or visited
    openid = fields.CharField(max_length=64, null=True)  # who answered in WeChat
    fee_charged = fields.BooleanField(null=True)  # Q1
    fee_details: str | None = fields.TextField(null=True)
    negligent = fields.BooleanField(null=True)  # Q2
    negligent_details: str | None = fields.TextField(null=True)
    satisfied = fields.BooleanField(null=True)  # Q3
    comments: str | None = fields.TextField(null=True)  # Q4
    flagged = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True, db_index=True)

    class Meta:
        table = "callback"
        # digest and stats: a region's callbacks by status and answer time (and satisfaction,
        # counted from the index alone); the console's worklists: by status and due time, and
        # the flagged answers newest first
        indexes = (
            ("region", "status", "answered_at", "satisfied"),
            ("region", "status", "due_at"),
            ("region", "flagged", "answered_at"),
            # coverage joins cases to completed callbacks: answered from the index alone
            ("case_id", "status"),
        )


class CallbackInvitation(Model):
    id = fields.IntField(primary_key=True)
    callback = fields.ForeignKeyField(
        "models.Callback", related_name="invitations", on_delete=fields.OnDelete.CASCADE
    )
    token = fields.CharField(max_length=32, unique=True)
    qr_url = fields.CharField(max_length=512)
    expires_at = fields.DatetimeField()
    scanned_by = fields.CharField(max_length=64, null=True)
    scanned_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "callback_invitation"

    @property
    def scene(self) -> str:
        return f"{SCENE_PREFIX}:{self.token}"


def due_at(closed_on: date, delay_days: int, tz: str) -> datetime:
    """When the callback of a case closed on `closed_on` is due (a morning, local time)."""
    local = datetime.combine(closed_on + timedelta(days=delay_days), INVITE_AT, ZoneInfo(tz))
    return local.astimezone(UTC)  # stored in UTC: sqlite compares timestamps as text


@dataclass(frozen=True, slots=True)
class Answers:
    """The four questions of the Zhashui form."""

    fee_charged: bool
    negligent: bool
    satisfied: bool
    fee_details: str | None = None
    negligent_details: str | None = None
    comments: str | None = None

    @property
    def flagged(self) -> bool:
        """A 'yes' to Q1 or Q2, or 不满意, goes to a supervisor at once."""
        return self.fee_charged or self.negligent or not self.satisfied


def _alert_text(text: str | None) -> str:
    """What the beneficiary typed, safe for a push through WeChat."""
    return scrub(text, free_text=True, limit=ALERT_TEXT_MAX)


async def complete(
    callback: Callback,
    case,
    answers: Answers,
    *,
    channel: CallbackChannel,
    answered_at: datetime,
    conn: BaseDBAsyncClient,
    openid: str | None = None,
    called_by: str | None = None,
) -> list[Push] | None:
    """Store the answers unless the callback was completed already (then None, nothing changes).

    Returns what the caller queues in the same transaction: an urgent alert to the region's
    supervisors for a flagged answer (masked name, no phone or ID number), and the
    callback.completed event for the centre.
    """
    done = (
        await Callback.filter(id=callback.id, answered_at=None)
        .using_db(conn)
        .update(
            status=CallbackStatus.COMPLETED,
            answered_at=answered_at,
            channel=channel,
            openid=openid,
            called_by=called_by,
            fee_charged=answers.fee_charged,
            fee_details=answers.fee_details,
            negligent=answers.negligent,
            negligent_details=answers.negligent_details,
            satisfied=answers.satisfied,
            comments=answers.comments,
            flagged=answers.flagged,
            updated_at=datetime.now(UTC),  # a queryset update skips auto_now; ?since= relies on it
        )
    )
    if not done:
        return None
    pushes: list[Push] = []
    if answers.flagged:
        yes, no = "是", "否"
        lines = [
            f"案件：{case.case_no}（{case.cause}）",
            f"受援人：{mask_name(case.beneficiary_name)}",
            f"承办人：{case.handler_name}（{case.handler_org}）",
            f"收费或索要钱物：{yes if answers.fee_charged else no}"
            + (f"，{_alert_text(answers.fee_details)}" if answers.fee_charged else ""),
            f"拖延或冷漠对待：{'有' if answers.negligent else '无'}"
            + (f"，{_alert_text(answers.negligent_details)}" if answers.negligent else ""),
            f"是否满意：{'满意' if answers.satisfied else '不满意'}",
            f"回访方式：{CHANNEL_ZH[channel]}",
        ]
        pushes.append(
            StaffAlert(
                region=case.region,
                key=f"callback:{callback.id}",
                title="回访预警",
                lines=tuple(lines),
                kind="callback-alert",
                page=f"callbacks/{callback.id}",
                supervisors=True,
            )
        )
    event = CenterEvent(
        event_type="callback.completed",
        key=f"callback:{callback.id}",
        region=case.region,
        data={
            "callback_id": callback.id,
            "case_no": case.case_no,
            "channel": channel.value,
            "called_by": called_by,
            "fee_charged": answers.fee_charged,
            "fee_details": answers.fee_details,
            "negligent": answers.negligent,
            "negligent_details": answers.negligent_details,
            "satisfied": answers.satisfied,
            "comments": answers.comments,
            "flagged": answers.flagged,
            "answered_at": answered_at.isoformat(),
        },
    )
    return [*pushes, event]
