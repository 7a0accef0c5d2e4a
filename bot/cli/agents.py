"""agents: invite village agents, list them, disable and enable them.

    python -m bot agents invite --region 330602 --name 王五 --village 东浦村 [--kind agent]
    python -m bot agents invite --agent 7        (a new code for an existing agent)
    python -m bot agents list [--region 330602]
    python -m bot agents disable 7
    python -m bot agents enable 7               (back, with the bindings it had)

`invite` prints the single-use code (valid 7 days) alone on its last line; the agent sends
`绑定 <code>` in chat or enters it in the mini-program.
"""

from __future__ import annotations

import argparse
import sys

from bot.auth import REGION
from bot.cli import run_with_db
from bot.settings import Settings
from models.agent import INVITE_TTL, Agent, AgentKind, create_invite
from models.contact import InvalidInput, validate_name


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("agents", help="village agents who file applications for others")
    ss = p.add_subparsers(dest="action", required=True, metavar="action")
    inv = ss.add_parser(
        "invite", help="create an agent (or re-invite one); prints the code alone on the last line"
    )
    inv.add_argument("--region", help="6-digit region code, e.g. 330602")
    inv.add_argument("--name")
    inv.add_argument("--village")
    inv.add_argument("--kind", choices=[k.value for k in AgentKind], default=AgentKind.AGENT)
    inv.add_argument("--agent", type=int, help="issue a new code for this existing agent id")
    inv.set_defaults(func=invite)
    ls = ss.add_parser("list", help="list agents")
    ls.add_argument("--region")
    ls.set_defaults(func=list_agents)
    dis = ss.add_parser("disable", help="stop an agent from filing (takes effect at once)")
    dis.add_argument("agent_id", type=int)
    dis.set_defaults(func=disable)
    ena = ss.add_parser("enable", help="let a disabled agent file again, bound as before")
    ena.add_argument("agent_id", type=int)
    ena.set_defaults(func=enable)


def _new_agent_args(args: argparse.Namespace) -> None:
    if not (args.region and args.name and args.village):
        sys.exit("agents invite needs --region, --name and --village (or --agent <id>)")
    if not REGION.match(args.region):
        sys.exit("region must be a 6-digit administrative code, e.g. 330602")
    try:
        args.name = validate_name(args.name)
    except InvalidInput:
        sys.exit("name: letters and '·' only, at most 30 characters")
    args.village = " ".join(args.village.split())
    if not 1 <= len(args.village) <= 60:
        sys.exit("village: 1 to 60 characters")


def invite(args: argparse.Namespace) -> int:
    if args.agent is None:
        _new_agent_args(args)

    async def go(_: Settings) -> tuple[Agent | None, str | None]:
        if args.agent is not None:
            agent = await Agent.get_or_none(id=args.agent)
            if agent is None or not agent.active:
                return None, None
        else:
            agent = await Agent.create(
                name=args.name, region=args.region, village=args.village, kind=args.kind
            )
        return agent, await create_invite(agent)

    agent, code = run_with_db(go)
    if agent is None or code is None:
        print(
            f"no active agent #{args.agent} (a disabled one: `agents enable {args.agent}` first)",
            file=sys.stderr,
        )
        return 1
    print(f"agent #{agent.id} {agent.name} ({agent.village}, region {agent.region}, {agent.kind})")
    print(
        f"single-use invite code, valid {INVITE_TTL.days} days; bind with 绑定 <code> in chat "
        "or in the mini-program:"
    )
    print(code)
    return 0


def list_agents(args: argparse.Namespace) -> int:
    async def go(_: Settings) -> None:
        q = Agent.all().order_by("region", "id")
        if args.region:
            q = q.filter(region=args.region)
        rows = await q
        for a in rows:
            # whole openids: a shortened one (oAbC…xy) tells two agents of one account apart
            # only by luck; this list is the operator's, on the server
            bound = (
                ",".join(
                    f"{label}:{v}"
                    for label, v in (("chat", a.oa_openid), ("wxa", a.wxa_openid))
                    if v
                )
                or "unbound"
            )
            state = "active" if a.active else "disabled"
            print(f"#{a.id}\t{a.region}\t{a.village}\t{a.name}\t{a.kind}\t{state}\t{bound}")
        print(f"{len(rows)} agent(s)")

    run_with_db(go)
    return 0


def disable(args: argparse.Namespace) -> int:
    return _set_active(args.agent_id, False)


def enable(args: argparse.Namespace) -> int:
    return _set_active(args.agent_id, True)


def _set_active(agent_id: int, active: bool) -> int:
    async def go(_: Settings) -> int:
        return await Agent.filter(id=agent_id).update(active=active)

    n = run_with_db(go)
    print(
        f"{'enabled' if active else 'disabled'} agent #{agent_id}" if n else f"no agent #{agent_id}"
    )
    return 0 if n else 1
