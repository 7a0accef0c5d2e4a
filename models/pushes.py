"""What a rule says should be told, and to whom: pushes as data.

The domain rules (models.callback, models.complaint, models.handoff) change state and return the
pushes that change calls for; they never queue anything themselves (models import nothing of the
engine). Whoever called the rule — a chat flow, an API endpoint, a console page, a job — queues
them with `bot.notify.queue(settings, pushes, conn=conn)` in the same transaction as the change,
so a rolled-back change sends nothing and a committed one always sends.

Texts here are already safe for WeChat's servers (names masked, no ID or phone number); the
engine scrubs them once more. `page` is a staff console path ("complaints/T-…"): the engine
turns it into a link with the configured public base URL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class StaffAlert:
    """An alert to a region's staff (WeChat, and the centre's WeCom group) — see
    bot.notify.alert_staff. `supervisors`: to the supervisors, or every staff member when the
    region has none (an alert nobody receives is worse than one a colleague forwards);
    `bureau`: to the region's justice-bureau members instead of the centre."""

    region: str
    key: str  # the cause, e.g. "complaint:42": the same alert queued twice is sent once
    title: str
    lines: tuple[str, ...]
    kind: str = "alert"
    page: str | None = None
    supervisors: bool = False
    bureau: bool = False


@dataclass(frozen=True, slots=True)
class UserNotice:
    """A customer-service message to one WeChat user (bot.notify.notify_user); with `page`, the
    console link of that page follows the text on a line of its own (staff recipients)."""

    openid: str
    key: str
    text: str
    kind: str = "notice"
    region: str | None = None
    page: str | None = None
    public_numbers: tuple[str | None, ...] = ()


@dataclass(frozen=True, slots=True)
class CenterEvent:
    """A signed event for the centre's records system (bot.notify.emit_event); dropped when no
    BOT_CENTER_WEBHOOK_URL is configured."""

    event_type: str
    key: str
    data: dict[str, Any] = field(default_factory=dict)
    region: str | None = None


Push = StaffAlert | UserNotice | CenterEvent
