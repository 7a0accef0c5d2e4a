"""The applicant scans the agent's QR code (scene `app:<token>`) and follows the application.

One openid per application: the first scan keeps it; the same person scanning again is told
where things stand; anyone else is told politely that someone already follows it. 查询进度 shows
followed applications beside bound cases (handlers.flows.progress asks `followed_items`).
"""

from __future__ import annotations

import logging

from tortoise.exceptions import IntegrityError

from bot.flowkit import Ctx, Done, Outcome, Start, command, scene
from handlers.applicant import status_line
from models.application import Application
from models.case import Case
from models.follow import SCENE_PREFIX, ApplicantFollow, ApplicantInvitation
from models.masking import mask_openid

log = logging.getLogger(__name__)


@scene(SCENE_PREFIX)
async def on_scan(ctx: Ctx, token: str) -> Outcome:
    """Links the scanner to the application (the first one keeps it) and says where it stands."""
    inv = await ApplicantInvitation.get_or_none(token=token[:32]).using_db(ctx.conn)
    if inv is None:
        return Done(ctx.t("applicant.scan.unknown"))
    application = await Application.get(id=inv.application_id).using_db(ctx.conn)
    current = await ApplicantFollow.get_or_none(application_id=application.id).using_db(ctx.conn)
    if current is not None and current.openid != ctx.openid:
        log.info(
            "application %s already followed; %s told", application.id, mask_openid(ctx.openid)
        )
        return Done(ctx.t("applicant.scan.taken"))
    if current is None:
        if inv.expires_at < ctx.now:
            return Done(ctx.t("applicant.scan.expired"))
        try:
            await ApplicantFollow.create(
                application_id=application.id,
                openid=ctx.openid,
                bound_at=ctx.now,
                using_db=ctx.conn,
            )
        except IntegrityError:  # a second phone scanned in the same instant
            return Done(ctx.t("applicant.scan.taken"))
        await (
            Case.filter(application_id=application.id, region=application.region, openid=None)
            .using_db(ctx.conn)
            .update(openid=ctx.openid, bound_at=ctx.now)
        )
        key = "applicant.scan.followed"
    else:
        key = "applicant.scan.again"
    matter = ctx.t(f"matter.{application.matter}")
    return Done(
        ctx.t(
            key,
            id=application.id,
            matter=matter,
            status=await status_line(application, ctx.locale, ctx.conn),
        )
    )


async def followed(ctx: Ctx) -> list[Application]:
    ids = (
        await ApplicantFollow.filter(openid=ctx.openid)
        .using_db(ctx.conn)
        .values_list("application_id", flat=True)
    )
    return await Application.filter(id__in=list(ids)).using_db(ctx.conn).order_by("-id")


async def followed_items(ctx: Ctx) -> list[tuple[str, str]]:
    """(value, one-line label) of each followed application, for 查询进度."""
    items = []
    for application in await followed(ctx):
        items.append(
            (
                f"application:{application.id}",
                ctx.t(
                    "applicant.progress_line",
                    id=application.id,
                    state=ctx.t(f"applicant.status.{application.status}"),
                ),
            )
        )
    return items


async def followed_detail(ctx: Ctx, ident: str) -> str | None:
    """The details of one followed application, or None when it is not this user's."""
    if not ident.isdigit():
        return None
    ids = (
        await ApplicantFollow.filter(openid=ctx.openid, application_id=int(ident))
        .using_db(ctx.conn)
        .values_list("application_id", flat=True)
    )
    if not ids:
        return None
    application = await Application.get(id=ids[0]).using_db(ctx.conn)
    return ctx.t(
        "applicant.progress_detail",
        id=application.id,
        matter=ctx.t(f"matter.{application.matter}"),
        status=await status_line(application, ctx.locale, ctx.conn),
    )


@command(r"^\s*(?:查询进度|查进度|查询办理进度|办理进度|progress)\s*$")
async def progress_word(ctx: Ctx, _match) -> Outcome:
    """`查询进度` typed as words opens the progress list (the menu entry's flow)."""
    return Start("progress")
