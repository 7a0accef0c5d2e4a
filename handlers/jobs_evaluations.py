"""Watches over evaluation rounds (DOMAIN §10); deadlines count working days.

- Publication: a finished round is due to be published `evaluation_publish_working_days` after
  its last grade stood (Wanzhou: 5). Staff are alerted the working day before and once it passed.
- Objection reviews: the bureau reviews within `objection_review_working_days` (Wanzhou: 10);
  alerted the working day before the due date and once it passed.
Each alert's dedupe key names its cause and stage, so a job run twice alerts once.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.keys import settings_key
from bot.notify import alert_staff
from bot.scheduler import daily_at, job
from handlers.quality.notices import alert_bureau
from i18n import t
from models.calendar import add_working_days
from models.evaluation import Evaluation, GradeObjection, ObjectionState

ZH = "zh_CN"  # staff alerts are in the centre's language


def _stage(due, today) -> str | None:
    """'soon' on the working day before `due` (or on it), 'late' after it, else None."""
    if today > due:
        return "late"
    if add_working_days(today, 1) >= due:
        return "soon"
    return None


@job("evaluation_deadlines", daily_at("09:00"))
async def evaluation_deadlines(app: web.Application, now: datetime) -> None:
    """Alerts staff before and after a round's publication or an objection's review is due."""
    settings = app[settings_key]
    today = now.astimezone(ZoneInfo(settings.timezone)).date()
    for ev in await Evaluation.filter(published_at=None, publish_due__isnull=False):
        assert ev.publish_due is not None  # publish_due__isnull=False
        stage = _stage(ev.publish_due, today)
        if stage:
            await alert_staff(
                settings,
                region=ev.region,
                key=f"evaluation-publish:{ev.id}:{stage}",
                title=t(f"quality.alert.publish_{stage}", ZH),
                lines=[
                    t("quality.alert.publish_line", ZH, round=ev.id, due=ev.publish_due.isoformat())
                ],
            )
    pending = GradeObjection.filter(state=ObjectionState.PENDING).select_related("eval_case__case")
    for obj in await pending:
        stage = _stage(obj.review_due, today)
        if stage:
            await alert_bureau(
                settings,
                obj.region,
                key=f"grade-objection:{obj.id}:{stage}",
                title=t(f"quality.alert.review_{stage}", ZH),
                lines=[
                    t(
                        "quality.alert.objection_line",
                        ZH,
                        case_no=obj.eval_case.case.case_no,
                        grade=t(f"grade.{obj.previous_grade}", ZH),
                        due=obj.review_due.isoformat(),
                    )
                ],
            )
