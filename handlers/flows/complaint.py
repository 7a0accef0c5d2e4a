"""投诉: a guided complaint (what about, which case, grounds, details, photos, confirm), the
one-shot `投诉 <text>`, and `查询投诉 <ticket>` for the complainant (DOMAIN §3).

A chat complaint is an oral complaint: the guided flow reads it back for confirmation; the
one-shot form is for people who already said everything in one message. Objections to a
refusal or termination of aid are not complaints (Art. 49): both forms point them to the
objection procedure instead of filing them.
"""

from __future__ import annotations

import logging
import re
from datetime import date
from zoneinfo import ZoneInfo

from bot.flowkit import (
    Choice,
    Ctx,
    Done,
    Flow,
    Next,
    Outcome,
    Start,
    Stay,
    Step,
    command,
    register_flow,
)
from handlers.flows.progress import bound_cases, home_region
from models.complaint import (
    ABOUT,
    GROUNDS,
    PHOTOS_MAX,
    TEXT_MAX,
    Complaint,
    bureau_name,
    file,
    filed_today,
    fmt_date,
    normalize_ticket,
    status_text,
)
from models.masking import mask_openid

log = logging.getLogger(__name__)
FLOW = "complaint"
ABOUT_CHOICES = tuple(Choice(a, f"complaint.about.{a}") for a in ABOUT)
GROUND_CHOICES = (
    *(Choice(g, f"complaint.grounds.{g}") for g in GROUNDS),
    Choice("objection", "complaint.grounds.objection"),
)
PHOTO_CHOICES = (
    Choice(
        "done",
        "complaint.photos.done",
        words=("完成", "好了", "发完了", "没有", "没有照片", "无", "done"),
    ),
)
CONFIRM = (
    Choice("submit", "complaint.confirm.submit", words=("确认", "提交", "确定"), means="yes"),
    Choice("redo", "complaint.confirm.redo", words=("重填", "重新", "修改")),
)
# Phrases that make a message an objection to a decision on aid, not a complaint (Art. 49).
OBJECTION = re.compile(
    r"(不予|不给予?|拒绝|终止|不批准)(法律)?援助|驳回.{0,4}申请|异议|objection|"
    r"(refus\w*|terminat\w*|denied|deny|reject\w*)\b.{0,12}\baid\b|"
    r"\baid\b.{0,12}\b(refused|terminated|denied|rejected)",
    re.IGNORECASE,
)
ONE_SHOT_MIN = 4  # characters; "投诉进度" is a question, not a complaint


async def over_limit(ctx: Ctx) -> str | None:
    """The polite refusal when this person filed the day's allowance already (no record, no
    alert: the supervisors' phones are not for one person to flood), else None."""
    limit = ctx.policy.complaint_daily_limit
    if await filed_today(ctx.openid, _today(ctx), ctx.conn) < limit:
        return None
    log.info("complaint from %s refused: %d today already", mask_openid(ctx.openid), limit)
    return ctx.t("complaint.daily_limit", n=limit)


async def about_prompt(ctx: Ctx) -> str | Done:
    """Asks who the complaint is about — unless today's allowance is used up."""
    refused = await over_limit(ctx)
    return Done(refused) if refused else ctx.t("complaint.ask.about")


async def case_choices(ctx: Ctx) -> list[Choice]:
    cases = await bound_cases(ctx.openid, ctx.conn)
    return [
        *(
            Choice(
                str(c.id), "complaint.case_item", label_fields={"cause": c.cause, "no": c.case_no}
            )
            for c in cases
        ),
        Choice("none", "complaint.case_none"),
    ]


async def on_about(ctx: Ctx) -> Outcome:
    """Stores who the complaint is about; asks which case when the user has bound ones."""
    ctx.data["about"] = ctx.choice
    ctx.data.pop("case_id", None)
    return Next("case" if await bound_cases(ctx.openid, ctx.conn) else "grounds")


async def on_case(ctx: Ctx) -> Outcome:
    """Stores the case (or none), asks the grounds."""
    ctx.data["case_id"] = None if ctx.choice == "none" else int(ctx.choice or 0)
    return Next("grounds")


async def on_grounds(ctx: Ctx) -> Outcome:
    """Stores the grounds; an objection to a decision is pointed to the objection procedure."""
    if ctx.choice == "objection":
        return Done(ctx.t("complaint.objection", days=ctx.policy.objection_review_days))
    ctx.data["grounds"] = ctx.choice
    return Next("details")


async def on_details(ctx: Ctx) -> Outcome:
    """Stores what happened (cut at TEXT_MAX, saying so), asks for photos."""
    text = ctx.text.strip()
    if len(text) > TEXT_MAX:
        ctx.extras.append(ctx.t("complaint.cut", n=TEXT_MAX))
    ctx.data["text"] = text[:TEXT_MAX]
    ctx.data.setdefault("photos", [])
    return Next("photos")


async def on_photos(ctx: Ctx) -> Outcome:
    """Keeps each photo sent (up to PHOTOS_MAX); 'done' goes to the confirmation."""
    photos = ctx.data.setdefault("photos", [])
    if ctx.inc.kind == "image":
        if len(photos) >= PHOTOS_MAX:
            return Stay(ctx.t("complaint.photos.full", n=PHOTOS_MAX))
        photos.append({"media_id": ctx.inc.media_id, "pic_url": ctx.inc.pic_url})
        return Stay(ctx.t("complaint.photos.got", n=len(photos)), ask=False)
    return Next("confirm")


async def confirm_prompt(ctx: Ctx) -> str:
    """Reads the complaint back."""
    d = ctx.data
    text = d.get("text", "")
    return ctx.t(
        "complaint.summary",
        about=ctx.t(f"complaint.about.{d.get('about', 'other')}"),
        grounds=ctx.t(f"complaint.grounds.{d.get('grounds', 'other')}"),
        text=text if len(text) <= 100 else text[:100] + "…",
        photos=len(d.get("photos") or []),
    )


async def on_confirm(ctx: Ctx) -> Outcome:
    """Files the complaint and answers its ticket number, or starts over."""
    if ctx.choice == "redo":
        ctx.conv.data, ctx.conv.history, ctx.conv.step = {}, [], None
        return Next("about")
    d = ctx.data
    return Done(
        await _file(
            ctx,
            d.get("text", ""),
            about=d.get("about", "other"),
            grounds=d.get("grounds", "other"),
            case_id=d.get("case_id"),
            photos=d.get("photos"),
            source="chat_form",
        )
    )


async def _file(ctx: Ctx, text: str, **kw) -> str:
    refused = await over_limit(ctx)
    if refused:
        return refused
    region = await home_region(ctx)
    if kw.get("case_id"):
        cases = {c.id: c for c in await bound_cases(ctx.openid, ctx.conn)}
        case = cases.get(kw["case_id"])
        kw["case_id"] = case.id if case else None
        region = case.region if case else region
    if not region:
        log.warning(
            "complaint from %s not filed: no region (set BOT_DEFAULT_REGION)",
            mask_openid(ctx.openid),
        )
        return ctx.t("complaint.no_region")
    c, pushes = await file(
        openid=ctx.openid,
        locale=ctx.locale,
        region=region,
        text=text,
        today=_today(ctx),
        now=ctx.now,
        policy=ctx.policy,
        conn=ctx.conn,
        **kw,
    )
    await ctx.push(pushes)
    return ctx.t(
        "complaint.filed",
        ticket=c.ticket,
        bureau=bureau_name(c, ctx.locale),
        accept_due=fmt_date(c.accept_due, ctx.locale),
    )


def _today(ctx: Ctx) -> date:
    return ctx.now.astimezone(ZoneInfo(ctx.settings.timezone)).date()


register_flow(
    Flow(
        FLOW,
        "complaint.title",
        (
            Step("about", about_prompt, on_about, choices=ABOUT_CHOICES),
            Step("case", "complaint.ask.case", on_case, choices=case_choices),
            Step("grounds", "complaint.ask.grounds", on_grounds, choices=GROUND_CHOICES),
            Step("details", "complaint.ask.details", on_details, raw=True),
            Step(
                "photos",
                "complaint.ask.photos",
                on_photos,
                choices=PHOTO_CHOICES,
                accepts=frozenset({"text", "image"}),
            ),
            Step("confirm", confirm_prompt, on_confirm, choices=CONFIRM),
        ),
    )
)


async def _say(ctx: Ctx, text: str) -> Outcome:
    return Stay(text) if ctx.conv.flow else Done(text)


@command(
    r"^\s*(?:投诉|complaint(?!\s+status\b)|complain)(?:[\s:：，,。]+|(?<=投诉))"
    r"(?P<text>\S.*)$"
)
async def one_shot(ctx: Ctx, m: re.Match[str]) -> Outcome:
    """`投诉 <text>` (`complaint <text>` in English) files a complaint with that text at once and
    answers its ticket."""
    text = m.group("text").strip()
    if len(text) < ONE_SHOT_MIN:
        return Start(FLOW)
    if OBJECTION.search(text):
        return await _say(ctx, ctx.t("complaint.objection", days=ctx.policy.objection_review_days))
    cut = ctx.t("complaint.cut", n=TEXT_MAX) + "\n" if len(text) > TEXT_MAX else ""
    return await _say(ctx, cut + await _file(ctx, text, source="chat_command"))


@command(r"^\s*(?:查询投诉|complaint\s+status\b)[\s:：，,。]*(?P<ticket>.*)$")
async def lookup(ctx: Ctx, m: re.Match[str]) -> Outcome:
    """`查询投诉 <ticket>` (`complaint status <ticket>`): the status, to its complainant only;
    without a ticket, theirs."""
    ticket = normalize_ticket(m.group("ticket"))
    mine = Complaint.filter(openid=ctx.openid).using_db(ctx.conn)
    if not ticket:
        rows = await mine.order_by("-id").limit(5)
        if not rows:
            return await _say(ctx, ctx.t("complaint.lookup.none"))
        return await _say(
            ctx,
            "\n".join(
                ctx.t(
                    "progress.complaint_line",
                    ticket=c.ticket,
                    state=ctx.t(f"complaint.state.{c.status}"),
                )
                for c in rows
            )
            + "\n"
            + ctx.t("complaint.lookup.hint"),
        )
    c = await mine.filter(ticket=ticket).first()
    if c is None:
        return await _say(ctx, ctx.t("complaint.lookup.not_found", ticket=ticket))
    return await _say(ctx, status_text(c, ctx.locale))
