"""staff and center-keys: the operators' commands for people and credentials."""

from __future__ import annotations

import argparse
import sys
from typing import cast

from bot.auth import REGION, create_center_key
from bot.cli import run_with_db
from bot.settings import Settings
from models.masking import mask_openid
from models.people import CenterKey, Staff, StaffRole


def register(sub: argparse._SubParsersAction) -> None:
    staff = sub.add_parser("staff", help="centre staff who get alerts and take 人工 chats")
    ss = staff.add_subparsers(dest="action", required=True, metavar="action")
    add = ss.add_parser("add", help="add a staff member (--update to change a registered one)")
    add.add_argument("--name", required=True)
    add.add_argument("--region", required=True, help="6-digit region code, e.g. 330600")
    add.add_argument("--openid", required=True, help="their openid in the official account")
    add.add_argument(
        "--role",
        choices=[r.value for r in StaffRole],
        default=None,
        help="staff (default): takes 人工 chats and gets the centre's alerts; "
        "supervisor: also gets escalations; bureau: the justice bureau, "
        "gets and decides complaints",
    )
    add.add_argument("--supervisor", action="store_true", help="same as --role supervisor")
    add.add_argument(
        "--unit",
        default="",
        help="the body they belong to, named to complainants, e.g. 柯桥区司法局",
    )
    add.add_argument(
        "--update",
        action="store_true",
        help="change the staff member already registered with this openid",
    )
    add.set_defaults(func=staff_add)
    ls = ss.add_parser("list", help="list staff")
    ls.add_argument("--region")
    ls.set_defaults(func=staff_list)
    rm = ss.add_parser("disable", help="stop alerts and handoffs to a staff member")
    rm.add_argument("--openid", required=True)
    rm.set_defaults(func=staff_disable)

    keys = sub.add_parser("center-keys", help="API keys of the centre's records system")
    ks = keys.add_subparsers(dest="action", required=True, metavar="action")
    create = ks.add_parser("create", help="create a key; prints it once, alone on the last line")
    create.add_argument("--region", required=True)
    create.add_argument("--label", default="")
    create.set_defaults(func=keys_create)
    kl = ks.add_parser("list", help="list keys (prefixes only)")
    kl.set_defaults(func=keys_list)
    kr = ks.add_parser("revoke", help="revoke a key by its prefix")
    kr.add_argument("prefix")
    kr.set_defaults(func=keys_revoke)


def _check_region(region: str) -> None:
    if not REGION.match(region):
        sys.exit("region must be a 6-digit administrative code, e.g. 330600")


def staff_add(args: argparse.Namespace) -> int:
    _check_region(args.region)

    if args.supervisor and args.role not in (None, StaffRole.SUPERVISOR):
        sys.exit("--supervisor contradicts --role " + args.role)
    role = StaffRole(args.role or (StaffRole.SUPERVISOR if args.supervisor else StaffRole.STAFF))

    async def go(_: Settings) -> int:
        # a typo'd or reused openid must not silently rename someone else's account
        existing = await Staff.filter(openid=args.openid).first()
        if existing is not None and not args.update:
            print(
                f"openid {mask_openid(args.openid)} is already registered as staff "
                f"#{existing.id} {existing.name} (region {existing.region}); "
                "add --update to change it",
                file=sys.stderr,
            )
            return 1
        member, created = await Staff.update_or_create(
            openid=args.openid,
            defaults={
                "name": args.name,
                "region": args.region,
                "role": role,
                "supervisor": role == StaffRole.SUPERVISOR,
                "unit": args.unit.strip(),
                "active": True,
            },
        )
        unit = f" {member.unit}" if member.unit else ""
        print(
            f"{'added' if created else 'updated'} {member.role} #{member.id} {member.name}"
            f"{unit} region {member.region} ({mask_openid(member.openid)})"
        )
        return 0

    return run_with_db(go) or 0


def staff_list(args: argparse.Namespace) -> int:
    async def go(_: Settings) -> None:
        q = Staff.all().order_by("region", "id")
        if args.region:
            q = q.filter(region=args.region)
        rows = await q
        for m in rows:
            flags = ",".join(
                f
                for f, on in ((m.role, True), (m.unit, bool(m.unit)), ("disabled", not m.active))
                if on
            )
            # the whole openid: it is what `staff disable --openid` takes, and official-account
            # openids share their first characters, so a shortened one tells no one apart
            print(f"#{m.id}\t{m.region}\t{m.name}\t{m.openid}\t{flags}")
        print(f"{len(rows)} staff")

    run_with_db(go)
    return 0


def staff_disable(args: argparse.Namespace) -> int:
    async def go(settings: Settings) -> int:
        from datetime import UTC, datetime

        from tortoise.transactions import in_transaction

        from bot.notify import queue
        from models.handoff import release_tickets

        async with in_transaction() as conn:
            held = (
                await Staff.filter(openid=args.openid).using_db(conn).values_list("id", flat=True)
            )
            n = await Staff.filter(openid=args.openid).using_db(conn).update(active=False)
            for staff_id in held:  # their open 人工 chats go to the others, the users told
                pushes = await release_tickets(
                    cast(int, staff_id), now=datetime.now(UTC), tz=settings.timezone, conn=conn
                )
                await queue(settings, pushes, conn=conn)
        return n

    n = run_with_db(go)
    print("disabled" if n else "no such staff member")
    return 0 if n else 1


def keys_create(args: argparse.Namespace) -> int:
    _check_region(args.region)

    async def go(_: Settings) -> str:
        return await create_center_key(args.region, args.label)

    key = run_with_db(go)
    print(f"API key for region {args.region} (shown once; send it as the X-Api-Key header):")
    print(key)
    return 0


def keys_list(args: argparse.Namespace) -> int:
    async def go(_: Settings) -> None:
        for k in await CenterKey.all().order_by("id"):
            state = "revoked" if k.revoked_at else "active"
            print(f"{k.prefix}…\t{k.region}\t{state}\t{k.label}")

    run_with_db(go)
    return 0


def keys_revoke(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    async def go(_: Settings) -> int:
        return await CenterKey.filter(prefix__startswith=args.prefix, revoked_at=None).update(
            revoked_at=datetime.now(UTC)
        )

    n = run_with_db(go)
    print(f"revoked {n} key(s)")
    return 0 if n else 1
