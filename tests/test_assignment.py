"""Assignment by the rules (DOMAIN §9): rotation, priorities, the monthly cap, removals, conflicts.

Each test sets up a region's pool over the centre API, files applications as an agent, grants
them, and reads who got them from the API — the rotation endpoint included.
"""

from __future__ import annotations

import asyncio

from models.assignment import Assignment
from models.outbox import OutboxMessage
from models.pool import Handler
from tests.applications_support import REGION
from tests.assignment_support import Centre, filed, new_filer, policy_client
from tests.test_cases_support import add_staff


async def pool_of_three(c: Centre) -> dict[str, int]:
    """Org A (甲律师事务所: 李一, 李二) then org B (乙法律服务所: 王三), in published order."""
    a, b = await c.org("甲律师事务所"), await c.org("乙法律服务所", kind="office")
    return {
        "A": a,
        "B": b,
        "li1": await c.handler(a, "李一"),
        "li2": await c.handler(a, "李二"),
        "wang3": await c.handler(b, "王三", kind="grassroots"),
    }


async def test_rotation_order_over_several_grants(app, fake_wechat):
    """Auto-assignment on grant walks the organisations in turn, then their handlers."""
    c = await Centre.of(app)
    ids = await pool_of_three(c)
    token, _ = await new_filer(app, fake_wechat)
    got = []
    for _ in range(5):
        app_id = await filed(app, token)
        await c.decide(app_id)
        (a,) = await c.assignments(app_id)
        assert a["priority"] == "rotation" and a["uses_turn"] and a["status"] == "assigned"
        got.append(a["handler"]["id"])
    assert got == [ids["li1"], ids["wang3"], ids["li2"], ids["wang3"], ids["li1"]]
    rot = await c.call("GET", "/api/v1/center/rotation", 200)
    assert [o["name"] for o in rot["orgs"]] == ["甲律师事务所", "乙法律服务所"]
    assert rot["next"]["civil"]["handler"]["id"] == ids["wang3"]
    assert rot["assignment"] == "here" and rot["monthly_cap"] is None
    again = await c.assign(app_id, expect=409)
    assert again["error"]["code"] == "already_assigned"


async def test_village_consultant_goes_first_without_using_the_turn(app, fake_wechat):
    c = await Centre.of(app)
    ids = await pool_of_three(c)
    token, agent = await new_filer(app, fake_wechat)
    consultant = await c.handler(ids["B"], "赵顾问", kind="grassroots", agent_id=agent.id)
    app_id = await filed(app, token)
    await c.decide(app_id)
    (a,) = await c.assignments(app_id)
    assert (a["handler"]["id"], a["priority"], a["uses_turn"]) == (
        consultant,
        "village_consultant",
        False,
    )
    assert (await Handler.get(id=consultant)).turns == 0
    other_token, _ = await new_filer(app, fake_wechat)  # someone else's filing: the rotation
    nxt = await filed(app, other_token)
    await c.decide(nxt)
    assert (await c.assignments(nxt))[0]["handler"]["id"] == ids["li1"]


async def test_chosen_uses_the_turn_and_duty_does_not(
    app, aiohttp_client, settings, tmp_path, fake_wechat
):
    client = await policy_client(aiohttp_client, settings, tmp_path, assignment_auto=False)
    c = await Centre.of(client)
    ids = await pool_of_three(c)
    token, _ = await new_filer(client, fake_wechat)
    apps = [await filed(client, token) for _ in range(4)]
    for app_id in apps:
        await c.decide(app_id)
    assert await c.assignments(apps[0]) == []  # the policy leaves it to the centre
    chosen = await c.assign(apps[0], handler_id=ids["li1"], priority="chosen")
    assert chosen["priority"] == "chosen" and chosen["uses_turn"]
    assert chosen["org"]["name"] == "甲律师事务所" and chosen["org"]["phone"]
    # 点援 used A's turn: the rotation goes to B next, then back to A's other handler
    assert (await c.assign(apps[1]))["handler"]["id"] == ids["wang3"]
    duty = await c.assign(apps[2], handler_id=ids["wang3"], priority="duty")
    assert not duty["uses_turn"]
    assert (await c.assign(apps[3]))["handler"]["id"] == ids["li2"]
    missing = await c.assign(apps[3], expect=422, priority="chosen")
    assert missing["error"]["code"] == "handler_required"


async def test_same_case_goes_to_the_earlier_handler(
    app, aiohttp_client, settings, tmp_path, fake_wechat
):
    client = await policy_client(aiohttp_client, settings, tmp_path, assignment_auto=False)
    c = await Centre.of(client)
    ids = await pool_of_three(c)
    token, _ = await new_filer(client, fake_wechat)
    first, second = await filed(client, token), await filed(client, token)
    await c.decide(first)
    await c.decide(second)
    assert (await c.assign(second, expect=409, priority="same_case"))["error"][
        "code"
    ] == "no_earlier_case"
    await c.assign(first, handler_id=ids["wang3"], priority="chosen")
    same = await c.assign(second, priority="same_case")
    assert same["handler"]["id"] == ids["wang3"] and same["uses_turn"]


async def test_capped_handler_is_skipped_and_all_capped_is_409(
    app, aiohttp_client, settings, tmp_path, fake_wechat
):
    client = await policy_client(
        aiohttp_client,
        settings,
        tmp_path,
        base="beijing",
        handler_monthly_case_cap=1,
        assignment_auto=False,
    )
    c = await Centre.of(client)
    a = await c.org("甲律师事务所")
    li1, li2 = await c.handler(a, "李一"), await c.handler(a, "李二")
    await add_staff("值班员", "o-staff-1", region=REGION)
    token, _ = await new_filer(client, fake_wechat)
    apps = [await filed(client, token) for _ in range(4)]
    for app_id in apps:
        await c.decide(app_id)
    assert (await c.assign(apps[0], handler_id=li1, priority="chosen"))["handler"]["id"] == li1
    assert (await c.assign(apps[1]))["handler"]["id"] == li2  # li1 is capped, though next
    capped = await c.assign(apps[2], expect=409, handler_id=li1, priority="difficult")
    assert capped["error"]["code"] == "handler_capped" and "1件" in capped["error"]["message"]
    refused = await c.assign(apps[2], expect=409)
    assert refused["error"]["code"] == "no_eligible_handler"
    assert "本月已满额2人" in refused["error"]["message"]
    alert = await OutboxMessage.filter(recipient="o-staff-1", kind="alert").first()
    assert alert is not None and "无法指派" in alert.payload["text"]
    group = await c.assign(apps[3], group_case=True)  # group cases are outside the cap
    assert group["group_case"] and group["handler"]["id"] in (li1, li2)
    rot = await c.call("GET", "/api/v1/center/rotation", 200)
    assert rot["monthly_cap"] == 1
    assert {h["why_not"] for h in rot["orgs"][0]["handlers"]} == {"capped"}


async def test_removed_handler_is_skipped(app, fake_wechat):
    c = await Centre.of(app)
    ids = await pool_of_three(c)
    await c.call(
        "POST",
        f"/api/v1/center/handlers/{ids['li1']}/removal",
        200,
        json={"reason": "质量评查得分低于65分"},
    )
    token, _ = await new_filer(app, fake_wechat)
    got = []
    for _ in range(3):
        app_id = await filed(app, token)
        await c.decide(app_id)
        got.append((await c.assignments(app_id))[0]["handler"]["id"])
    assert got == [ids["li2"], ids["wang3"], ids["li2"]]
    out = await c.assign(app_id, expect=409)  # already assigned; the pool does not matter
    assert out["error"]["code"] == "already_assigned"


async def test_specialty_and_external_policy(app, aiohttp_client, settings, tmp_path, fake_wechat):
    client = await policy_client(aiohttp_client, settings, tmp_path, assignment="external")
    c = await Centre.of(client)
    org = await c.org("甲律师事务所")
    await c.handler(org, "李一", specialties=["criminal"])
    token, _ = await new_filer(client, fake_wechat)
    app_id = await filed(client, token)
    await c.decide(app_id)
    out = await c.assign(app_id, expect=409)
    assert out["error"]["code"] == "assignment_external" and "省级平台" in out["error"]["message"]
    rot = await c.call("GET", "/api/v1/center/rotation", 200)
    assert rot["assignment"] == "external" and rot["next"]["civil"] is None
    assert rot["next"]["criminal"]["handler"]["name"] == "李一"


async def test_not_granted_unknown_and_other_region(app, fake_wechat):
    c = await Centre.of(app)
    await pool_of_three(c)
    token, _ = await new_filer(app, fake_wechat)
    app_id = await filed(app, token)
    assert (await c.assign(app_id, expect=409))["error"]["code"] == "not_granted"
    await c.decide(app_id)
    other = await Centre.of(app, region="110105")
    assert (await other.assign(app_id, expect=404))["error"]["code"] == "not_found"
    bad = await c.assign(app_id, expect=422, priority="nonsense")
    assert "priority" in bad["error"]["fields"]


async def test_two_assignments_at_once_never_share_a_turn(
    app, aiohttp_client, settings, tmp_path, fake_wechat
):
    """Four grants assigned concurrently: four distinct turns, counters consistent."""
    client = await policy_client(aiohttp_client, settings, tmp_path, assignment_auto=False)
    c = await Centre.of(client)
    a, b = await c.org("甲律师事务所"), await c.org("乙律师事务所")
    hs = [
        await c.handler(a, "李一"),
        await c.handler(a, "李二"),
        await c.handler(b, "王三"),
        await c.handler(b, "王四"),
    ]
    token, _ = await new_filer(client, fake_wechat)
    apps = [await filed(client, token) for _ in range(4)]
    for app_id in apps:
        await c.decide(app_id)
    results = await asyncio.gather(*(c.assign(app_id) for app_id in apps))
    assert sorted(r["handler"]["id"] for r in results) == sorted(hs)
    assert [h.turns for h in await Handler.filter(id__in=hs)] == [1, 1, 1, 1]
    assert await Assignment.filter(status="assigned").count() == 4
