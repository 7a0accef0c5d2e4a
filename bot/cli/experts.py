"""experts add | list | disable | enable: the region's evaluation experts (评估专家库)."""

from __future__ import annotations

import argparse
import sys

from bot.auth import REGION
from bot.cli import run_with_db
from bot.settings import Settings
from models.masking import mask_openid

GROUPS = ("criminal", "civil_admin")


def register(sub: argparse._SubParsersAction) -> None:
    experts = sub.add_parser("experts", help="evaluation experts who score closed cases")
    es = experts.add_subparsers(dest="action", required=True, metavar="action")
    add = es.add_parser("add", help="add an expert; prints the new id alone on the last line")
    add.add_argument("--region", required=True, help="6-digit region code, e.g. 404100")
    add.add_argument("--name", required=True)
    add.add_argument("--group", required=True, choices=GROUPS)
    add.add_argument("--org", help="their own organisation: they never evaluate its cases")
    add.add_argument("--openid", help="their openid in the official account (console login)")
    add.set_defaults(func=experts_add)
    ls = es.add_parser("list", help="list experts")
    ls.add_argument("--region")
    ls.set_defaults(func=experts_list)
    dis = es.add_parser("disable", help="take an expert out of future draws")
    dis.add_argument("id", type=int)
    dis.set_defaults(func=experts_disable)
    en = es.add_parser("enable", help="bring a disabled expert back (draws, their open cases)")
    en.add_argument("id", type=int)
    en.set_defaults(func=experts_enable)


def experts_add(args: argparse.Namespace) -> int:
    if not REGION.match(args.region):
        sys.exit("region must be a 6-digit administrative code, e.g. 404100")
    from models.contact import validate_name

    try:
        name = validate_name(args.name)
    except ValueError as exc:
        sys.exit(f"name: {exc}")

    async def go(_: Settings) -> int | None:
        from models.evaluation import Expert

        if args.openid and await Expert.exists(openid=args.openid):
            return None
        expert = await Expert.create(
            region=args.region, name=name, group=args.group, org=args.org, openid=args.openid
        )
        return expert.id

    new_id = run_with_db(go)
    if new_id is None:
        sys.exit("an expert with this openid exists already")
    print(f"added expert {name} ({args.group}) in region {args.region}")
    print(new_id)
    return 0


def experts_list(args: argparse.Namespace) -> int:
    async def go(_: Settings) -> None:
        from models.evaluation import Expert

        q = Expert.all().order_by("region", "id")
        if args.region:
            q = q.filter(region=args.region)
        rows = await q
        for e in rows:
            state = "active" if e.active else "disabled"
            print(
                f"#{e.id}\t{e.region}\t{e.name}\t{e.group}\t{e.org or '-'}\t"
                f"{mask_openid(e.openid) if e.openid else '-'}\t{state}"
            )
        print(f"{len(rows)} experts")

    run_with_db(go)
    return 0


def experts_disable(args: argparse.Namespace) -> int:
    async def go(_: Settings) -> tuple[int, list[str]]:
        from datetime import UTC, datetime

        from models.evaluation import Expert
        from models.evaluation_rules import waiting_on

        n = await Expert.filter(id=args.id, active=True).update(
            active=False, disabled_at=datetime.now(UTC)
        )
        waiting = [
            f"round {ec.evaluation_id} pair {ec.pair_id}: {ec.case.case_no}"
            for ec in await waiting_on(args.id)
        ]
        return n, waiting

    n, waiting = run_with_db(go)
    print("disabled" if n else "no such active expert")
    if n and waiting:
        print(
            f"warning: expert #{args.id} has {len(waiting)} case(s) waiting in open rounds; "
            "they cannot be scored until the expert is enabled again "
            f"(python -m bot experts enable {args.id}) or replaced in the pair "
            "(POST /api/v1/center/evaluations/{id}/pairs/{pair_id}/replace):"
        )
        for line in waiting:
            print(f"  {line}")
    return 0 if n else 1


def experts_enable(args: argparse.Namespace) -> int:
    async def go(_: Settings) -> int:
        from models.evaluation import Expert

        return await Expert.filter(id=args.id, active=False).update(active=True, disabled_at=None)

    n = run_with_db(go)
    print("enabled" if n else "no such disabled expert")
    return 0 if n else 1
