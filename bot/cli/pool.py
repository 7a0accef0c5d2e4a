"""orgs and handlers: service organisations and the handler pool (DOMAIN §9).

    python -m bot orgs add --region 330602 --name 越城律师事务所 --kind firm [--phone 0575-8512345]
    python -m bot orgs list [--region 330602]
    python -m bot handlers add --region 330602 --name 李明 --org 1 --kind lawyer \
        [--specialties civil,criminal] [--openid O] [--agent 7]
    python -m bot handlers list [--region 330602]
    python -m bot handlers remove 3 --reason 质量评查不合格 [--until 2026-12-31]
    python -m bot handlers readmit 3 [--reason 培训合格]
    python -m bot handlers invite 3

`orgs add` and `handlers add` print the new id alone on their last line; `handlers invite`
prints the single-use code (valid 7 days) alone on its last line, for `绑定 <code>` in chat.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

from bot.cli import run_with_db
from bot.cli.people import _check_region
from bot.settings import Settings
from models.agent import INVITE_TTL
from models.calendar import local_today
from models.contact import InvalidInput, validate_name
from models.masking import mask_openid
from models.pool import (
    SPECIALTIES,
    Handler,
    HandlerKind,
    Org,
    OrgKind,
    PoolError,
    add_handler,
    add_org,
    check_org_name,
    check_org_phone,
    check_reason,
    create_handler_invite,
    readmit_handler,
    remove_handler,
)

ERRORS = {  # PoolError codes -> what the operator reads
    "org_exists": "an organisation of that name already exists in the region",
    "openid_taken": "that openid is already bound to another handler",
    "agent_unknown": "no agent with that id in the region",
    "agent_taken": "that agent is already linked to another handler",
}


def register(sub: argparse._SubParsersAction) -> None:
    orgs = sub.add_parser("orgs", help="service organisations (law firms, legal service offices)")
    os_ = orgs.add_subparsers(dest="action", required=True, metavar="action")
    add = os_.add_parser("add", help="add an organisation; prints its id alone on the last line")
    add.add_argument("--region", required=True, help="6-digit region code, e.g. 330602")
    add.add_argument("--name", required=True)
    add.add_argument("--kind", required=True, choices=[k.value for k in OrgKind])
    add.add_argument("--phone", help="the office's contact number, told to handlers and recipients")
    add.set_defaults(func=orgs_add)
    ls = os_.add_parser("list", help="organisations in their published rotation order")
    ls.add_argument("--region")
    ls.set_defaults(func=orgs_list)

    hs = sub.add_parser("handlers", help="the handler pool (法律援助人员库)")
    ha = hs.add_subparsers(dest="action", required=True, metavar="action")
    add = ha.add_parser(
        "add", help="add a handler to the pool; prints the id alone on the last line"
    )
    add.add_argument("--region", required=True)
    add.add_argument("--name", required=True)
    add.add_argument("--org", required=True, type=int, help="organisation id (orgs list)")
    add.add_argument("--kind", required=True, choices=[k.value for k in HandlerKind])
    add.add_argument("--specialties", default="", help="comma-separated: " + ",".join(SPECIALTIES))
    add.add_argument("--openid", help="their official-account openid (else: handlers invite)")
    add.add_argument(
        "--agent",
        type=int,
        help="the agent id of a village consultant who is "
        "also a handler: cases they file go to them",
    )
    add.set_defaults(func=handlers_add)
    ls = ha.add_parser("list", help="handlers with their pool status")
    ls.add_argument("--region")
    ls.set_defaults(func=handlers_list)
    rm = ha.add_parser("remove", help="take a handler out of the pool, with the reason")
    rm.add_argument("handler_id", type=int)
    rm.add_argument("--reason", required=True)
    rm.add_argument("--until", type=date.fromisoformat, help="YYYY-MM-DD: back in after this day")
    rm.set_defaults(func=handlers_remove)
    ra = ha.add_parser("readmit", help="put a removed handler back in the pool")
    ra.add_argument("handler_id", type=int)
    ra.add_argument("--reason", default="重新入库")
    ra.set_defaults(func=handlers_readmit)
    inv = ha.add_parser(
        "invite", help="a code for the handler to bind WeChat; printed alone on the last line"
    )
    inv.add_argument("handler_id", type=int)
    inv.set_defaults(func=handlers_invite)


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 1


def orgs_add(args: argparse.Namespace) -> int:
    _check_region(args.region)
    try:
        name, phone = check_org_name(args.name), check_org_phone(args.phone)
    except ValueError as exc:
        sys.exit(str(exc))

    async def go(_: Settings) -> Org | str:
        try:
            return await add_org(args.region, name, args.kind, phone)
        except PoolError as exc:
            return ERRORS[exc.code]

    org = run_with_db(go)
    if isinstance(org, str):
        return _fail(org)
    print(
        f"organisation #{org.id} {org.name} ({org.kind}, region {org.region}), "
        f"rotation position {org.position}"
    )
    print(org.id)
    return 0


def orgs_list(args: argparse.Namespace) -> int:
    async def go(_: Settings) -> None:
        q = Org.all().order_by("region", "position", "id")
        if args.region:
            q = q.filter(region=args.region)
        rows = await q
        for o in rows:
            n = await Handler.filter(org_id=o.id, in_pool=True).count()
            print(
                f"#{o.id}\t{o.region}\t{o.position}\t{o.name}\t{o.kind}\t{o.phone or '-'}"
                f"\t{n} in pool\tturns {o.turns}"
            )
        print(f"{len(rows)} organisation(s)")

    run_with_db(go)
    return 0


def handlers_add(args: argparse.Namespace) -> int:
    _check_region(args.region)
    try:
        name = validate_name(args.name)
    except InvalidInput:
        sys.exit("name: letters and '·' only, at most 30 characters")
    specialties = [s.strip() for s in args.specialties.split(",") if s.strip()]
    if set(specialties) - set(SPECIALTIES):
        sys.exit("specialties: comma-separated among " + ",".join(SPECIALTIES))

    async def go(_: Settings) -> Handler | str:
        org = await Org.get_or_none(id=args.org, region=args.region)
        if org is None:
            return f"no organisation #{args.org} in region {args.region}"
        try:
            return await add_handler(
                org,
                name,
                args.kind,
                specialties=specialties,
                openid=args.openid,
                agent_id=args.agent,
            )
        except PoolError as exc:
            return ERRORS[exc.code]

    handler = run_with_db(go)
    if isinstance(handler, str):
        return _fail(handler)
    print(
        f"handler #{handler.id} {handler.name} ({handler.kind}) of organisation "
        f"#{handler.org_id}, in the pool"
    )
    print(handler.id)
    return 0


def handlers_list(args: argparse.Namespace) -> int:
    async def go(settings: Settings) -> None:
        q = Handler.all().order_by("region", "org_id", "id").select_related("org")
        if args.region:
            q = q.filter(region=args.region)
        rows = await q
        today = local_today(settings.timezone)
        for h in rows:
            state = (
                "in pool"
                if h.eligible_on(today)
                else (f"removed until {h.removed_until}" if h.removed_until else "removed")
            )
            bound = mask_openid(h.openid) if h.openid else "unbound"
            print(
                f"#{h.id}\t{h.region}\t{h.name}\t{h.kind}\t{h.org.name}"
                f"\t{','.join(h.specialties) or '-'}\t{state}\t{bound}"
            )
        print(f"{len(rows)} handler(s)")

    run_with_db(go)
    return 0


def handlers_remove(args: argparse.Namespace) -> int:
    try:
        reason = check_reason(args.reason)
    except ValueError as exc:
        sys.exit(str(exc))

    async def go(_: Settings) -> Handler | None:
        handler = await Handler.get_or_none(id=args.handler_id)
        if handler is None:
            return None
        return await remove_handler(handler, reason, until=args.until)

    handler = run_with_db(go)
    if handler is None:
        return _fail(f"no handler #{args.handler_id}")
    until = f" until {handler.removed_until}" if handler.removed_until else ""
    print(f"handler #{handler.id} {handler.name} removed from the pool{until}: {reason}")
    return 0


def handlers_readmit(args: argparse.Namespace) -> int:
    try:
        reason = check_reason(args.reason)
    except ValueError as exc:
        sys.exit(str(exc))

    async def go(_: Settings) -> Handler | None:
        handler = await Handler.get_or_none(id=args.handler_id)
        if handler is None:
            return None
        return await readmit_handler(handler, reason)

    handler = run_with_db(go)
    if handler is None:
        return _fail(f"no handler #{args.handler_id}")
    print(f"handler #{handler.id} {handler.name} is back in the pool")
    return 0


def handlers_invite(args: argparse.Namespace) -> int:
    async def go(_: Settings) -> tuple[Handler | None, str | None]:
        handler = await Handler.get_or_none(id=args.handler_id)
        if handler is None:
            return None, None
        return handler, await create_handler_invite(handler)

    handler, code = run_with_db(go)
    if handler is None or code is None:
        return _fail(f"no handler #{args.handler_id}")
    print(f"handler #{handler.id} {handler.name}")
    print(
        f"single-use invite code, valid {INVITE_TTL.days} days; the handler sends "
        "绑定 <code> to the official account:"
    )
    print(code)
    return 0
