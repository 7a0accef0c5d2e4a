"""Choosing the handler of a granted application: priorities, the rotation, the monthly cap.

DOMAIN §9. Without a named handler the choice is: the village consultant who filed it, when
they are in the pool (not using their turn); else the rotation — the organisation with the
fewest turns used, ties by the published order, then within it the handler with the fewest
turns, ties by id. A priority that "uses the turn" (点援, same case, rotation) adds one to the
handler's and the organisation's turns, so the rotation passes them over until the others
catch up; one that does not (duty, consultant, difficult) leaves the counters alone.

Eligible means: in the pool today (models.pool), their organisation active, their specialties
covering the matter (none listed = any), under the policy's monthly cap unless the case is a
group case, and not a handler who already reported a conflict on this application.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from typing import cast

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F
from tortoise.functions import Count

from models.assignment import (
    LIVE,
    USES_TURN,
    Assignment,
    AssignmentStatus,
    Priority,
    RotationLock,
    agreement_due,
    month_of,
)
from models.pool import Handler, Org

CRIMINAL_MATTERS = frozenset({"criminal_defense", "criminal_victim"})
ADMINISTRATIVE_MATTERS = frozenset({"state_compensation", "retrial_acquittal_compensation"})
# Priorities that name their handler; same_case and village_consultant can find theirs.
NEEDS_HANDLER = frozenset({Priority.CHOSEN, Priority.DUTY, Priority.DIFFICULT})


def specialty_of(matter: str) -> str:
    """The pool specialty an application's matter needs."""
    if matter in CRIMINAL_MATTERS:
        return "criminal"
    if matter in ADMINISTRATIVE_MATTERS:
        return "administrative"
    return "civil"


class AssignError(Exception):
    """No assignment; `.code` is an i18n suffix (assignment.error.<code>), `.params` fill it."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code, self.params = code, params


@dataclass(slots=True)
class Pool:
    """The region's organisations and handlers as the choice sees them, with why some are out."""

    orgs: list[Org]
    handlers: list[Handler]
    used: Counter[int]  # handler id -> cases this month (cap)
    cap: int | None
    group_case: bool
    specialty: str
    today: date
    excluded: frozenset[int]  # handlers who reported a conflict on this case

    def why_not(self, h: Handler) -> str | None:
        """None when `h` may take the case, else the reason code."""
        org = next((o for o in self.orgs if o.id == h.org_id), None)
        if h.id in self.excluded:
            return "conflict"
        if org is None or not org.active or not h.eligible_on(self.today):
            return "out_of_pool"
        if h.specialties and self.specialty not in h.specialties:
            return "specialty"
        if self.cap is not None and not self.group_case and self.used[h.id] >= self.cap:
            return "capped"
        return None

    def next_in_rotation(self) -> Handler | None:
        for org in sorted(self.orgs, key=lambda o: (o.turns, o.position, o.id)):
            ready = [h for h in self.handlers if h.org_id == org.id and self.why_not(h) is None]
            if ready:
                return min(ready, key=lambda h: (h.turns, h.id))
        return None

    def refusal(self) -> AssignError:
        """Why nobody can take the case: counts per reason, for the 409 and the staff alert."""
        reasons = Counter(self.why_not(h) for h in self.handlers)
        return AssignError(
            "no_eligible_handler",
            total=len(self.handlers),
            capped=reasons["capped"],
            out_of_pool=reasons["out_of_pool"],
            specialty=reasons["specialty"],
            conflict=reasons["conflict"],
        )


async def load_pool(
    region: str,
    *,
    cap: int | None,
    group_case: bool,
    specialty: str,
    today: date,
    excluded: frozenset[int],
    conn: BaseDBAsyncClient | None,
) -> Pool:
    orgs = await Org.filter(region=region).using_db(conn).order_by("position", "id")
    handlers = await Handler.filter(region=region).using_db(conn).order_by("id")
    used: Counter[int] = Counter()
    if cap is not None:
        rows = (
            await Assignment.filter(region=region, month=month_of(today), group_case=False)
            .exclude(status=AssignmentStatus.CONFLICT)
            .using_db(conn)
            .annotate(n=Count("id"))
            .group_by("handler_id")
            .values_list("handler_id", "n")
        )
        used.update(dict(rows))
    return Pool(orgs, handlers, used, cap, group_case, specialty, today, excluded)


async def lock_rotation(region: str, conn: BaseDBAsyncClient) -> None:
    """Hold the region's rotation lock until `conn`'s transaction ends."""
    await RotationLock.bulk_create(
        [RotationLock(region=region)], ignore_conflicts=True, using_db=conn
    )
    await RotationLock.select_for_update().using_db(conn).get(region=region)


def _named(pool: Pool, handler_id: int) -> Handler:
    """The named handler if they may take the case; else AssignError saying why not."""
    handler = next((h for h in pool.handlers if h.id == handler_id), None)
    if handler is None:
        raise AssignError("handler_unknown", id=handler_id)
    why = pool.why_not(handler)
    if why is not None:
        raise AssignError(f"handler_{why}", name=handler.name, cap=pool.cap or 0)
    return handler


def check_request(priority: Priority | None, handler_id: int | None) -> None:
    """A priority that names its handler needs one; a named handler needs the priority."""
    if priority in NEEDS_HANDLER and handler_id is None:
        raise AssignError("handler_required", priority=priority.value)
    if handler_id is not None and priority is None:
        raise AssignError("priority_required")


async def choose(
    application,
    pool: Pool,
    *,
    priority: Priority | None,
    handler_id: int | None,
    conn: BaseDBAsyncClient | None,
) -> tuple[Handler, Priority]:
    """The handler for `application` and the priority that picked them (see module docstring)."""
    check_request(priority, handler_id)
    if priority is Priority.SAME_CASE and handler_id is None:
        earlier = (
            await Assignment.filter(
                region=application.region,
                application__applicant_id_index=application.applicant_id_index,
                status__in=[*LIVE, AssignmentStatus.ENDED],
            )
            .exclude(application_id=application.id)
            .using_db(conn)
            .order_by("-id")
            .first()
        )
        if earlier is None:
            raise AssignError("no_earlier_case")
        handler_id = earlier.handler_id
    if priority is Priority.VILLAGE_CONSULTANT and handler_id is None:
        linked = next((h for h in pool.handlers if h.agent_id == application.agent_id), None)
        if linked is None:
            raise AssignError("no_consultant")
        handler_id = linked.id
    if handler_id is not None and priority is not None:  # check_request: one implies the other
        return _named(pool, handler_id), priority
    linked = next((h for h in pool.handlers if h.agent_id == application.agent_id), None)
    if linked is not None and pool.why_not(linked) is None:  # filed by a consultant in the pool
        return linked, Priority.VILLAGE_CONSULTANT
    handler = pool.next_in_rotation()
    if handler is None:
        raise pool.refusal()
    return handler, Priority.ROTATION


async def assign(
    application,
    *,
    cap: int | None,
    now: datetime,
    today: date,
    handler_id: int | None = None,
    priority: Priority | None = None,
    group_case: bool = False,
    actor: str,
    conn: BaseDBAsyncClient,
) -> Assignment:
    """Choose and record the handler of a granted `application`, in `conn`'s transaction.

    Raises AssignError when the application is not granted, already has a live assignment, or
    nobody eligible is left. The caller tells the handler, the applicant and the centre."""
    check_request(priority, handler_id)
    await lock_rotation(application.region, conn)
    if application.status != "granted":
        raise AssignError("not_granted")
    if (
        await Assignment.filter(application_id=application.id, status__in=LIVE)
        .using_db(conn)
        .exists()
    ):
        raise AssignError("already_assigned")
    conflicts = cast(  # flat=True gives values; tortoise's types say tuples
        "list[int]",
        await Assignment.filter(application_id=application.id, status=AssignmentStatus.CONFLICT)
        .using_db(conn)
        .values_list("handler_id", flat=True),
    )
    pool = await load_pool(
        application.region,
        cap=cap,
        group_case=group_case,
        specialty=specialty_of(application.matter),
        today=today,
        excluded=frozenset(conflicts),
        conn=conn,
    )
    handler, picked = await choose(
        application, pool, priority=priority, handler_id=handler_id, conn=conn
    )
    uses_turn = USES_TURN[picked]
    row = await Assignment.create(
        region=application.region,
        application_id=application.id,
        handler_id=handler.id,
        org_id=handler.org_id,
        priority=picked.value,
        uses_turn=uses_turn,
        group_case=group_case,
        active_key=f"app:{application.id}",
        month=month_of(today),
        assigned_at=now,
        agreement_due=agreement_due(today),
        actor=actor,
        using_db=conn,
    )
    if uses_turn:
        await Handler.filter(id=handler.id).using_db(conn).update(turns=F("turns") + 1)
        await Org.filter(id=handler.org_id).using_db(conn).update(turns=F("turns") + 1)
    return row


async def next_up(
    region: str, *, cap: int | None, today: date, conn: BaseDBAsyncClient | None = None
) -> tuple[Pool, Handler | None]:
    """The region's pool and who the rotation would give an ordinary civil case to now."""
    pool = await load_pool(
        region,
        cap=cap,
        group_case=False,
        specialty="civil",
        today=today,
        excluded=frozenset(),
        conn=conn,
    )
    return pool, pool.next_in_rotation()
