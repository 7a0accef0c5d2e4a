"""Small helpers the console pages share: ids from the path, paging, the audit line, dates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

from aiohttp import web

from bot.api import ApiError
from bot.keys import settings_key
from handlers.console.session import Visitor
from models import calendar
from models.complaint import ComplaintStatus
from models.console import StaffAudit

PAGE_SIZE = 30  # rows per list page: a phone screen scrolls a few, a desk sees them all
MAX_PAGE = 1000  # deeper than this nobody pages by hand; filters narrow the list instead


def int_id(request: web.Request, name: str = "id") -> int:
    raw = request.match_info[name]
    if not raw.isdigit() or len(raw) > 9:
        raise ApiError(404, "not_found")
    return int(raw)


def local_today(request: web.Request) -> date:
    return calendar.local_today(request.app[settings_key].timezone)


@dataclass(slots=True)
class Pager:
    page: int
    more: bool
    base: dict[str, str]

    def link(self, page: int) -> str:
        return "?" + urlencode({**self.base, "page": str(page)})


async def paged(
    request: web.Request, rows, size: int = PAGE_SIZE, related: tuple[str, ...] = ()
) -> tuple[list, Pager]:
    """One page of an ordered queryset (`?page=N`, 1-based) and the links around it.

    No total is counted (one more row than the page says whether there is a next one). The
    page's ids come first, from the index that matches the list's filter and order (no row
    read, no join, however deep the page); then only those rows are loaded by primary key,
    with their `related` rows joined, and put back in that order."""
    raw = request.query.get("page", "1")
    page = min(int(raw), MAX_PAGE) if raw.isdigit() and 0 < len(raw) < 6 and int(raw) else 1
    ids = list(await rows.offset((page - 1) * size).limit(size + 1).values_list("id", flat=True))
    found = {}
    if ids:
        page_rows = rows.model.filter(id__in=ids[:size]).select_related(*related)
        found = {r.id: r for r in await page_rows}
    base = {k: v for k, v in request.query.items() if k != "page"}
    return [found[i] for i in ids[:size] if i in found], Pager(page, len(ids) > size, base)


# Every action the console audits; the audit page shows each as words (i18n
# console.audit.act.<action>, zh_CN and en), never the raw name.
AUDIT_ACTIONS = frozenset(
    {
        "decide",
        "reveal_phone",
        "reveal_id_number",
        "material",
        "callback_result",
        "callback_finding",
        "callback_visit",
        *(f"complaint_{s}" for s in ComplaintStatus),
        "handoff_take",
        "export_applications",
        "export_callbacks",
        "export_complaints",
        "export_disclosure",
        "export_evaluation",
        "outbox_retry",
        "staff_add",
        "staff_disable",
        "staff_enable",
        "staff_duty",
        "staff_supervisor",
        "agent_invite",
        "center_key",
        "evaluation_publish",
        "objection_review",
        "subsidy_paid",
        "subsidy_claw_back",
        "subsidy_undo",
    }
)
API_AUDIT_ACTIONS = frozenset({"list", "document", "material", "decide"})


async def audit(visitor: Visitor, action: str, record: str) -> None:
    if action not in AUDIT_ACTIONS:
        raise ValueError(f"unknown console audit action {action!r}: add it to AUDIT_ACTIONS")
    await StaffAudit.create(
        staff_id=visitor.member.id, region=visitor.region, action=action, record=record
    )
