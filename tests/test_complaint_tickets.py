"""Complaint tickets are unique by construction and a person's complaints per day are limited."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta

import pytest

from models.complaint import Complaint
from models.keystore import StoredKey
from models.outbox import OutboxMessage
from models.tickets import CAPACITY, permute, ticket_for, unpermute, well_formed
from tests.test_cases_support import add_staff

pytestmark = pytest.mark.db
KEY = bytes(range(32))


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"default_region": "611026"})


def test_tickets_are_a_one_to_one_map_of_ids():
    tickets = [ticket_for(i, KEY) for i in range(1, 100_001)]
    assert len(set(tickets)) == len(tickets)
    assert all(len(t) == 10 and t.isdigit() and t[0] != "0" and well_formed(t) for t in tickets)
    for n in (0, 1, 2, 12345, CAPACITY // 2, CAPACITY - 1):
        assert unpermute(permute(n, KEY), KEY) == n  # invertible: no two ids share a ticket
    with pytest.raises(ValueError):
        permute(CAPACITY, KEY)


def test_tickets_are_not_guessable_in_sequence():
    a, b, c = (ticket_for(i, KEY) for i in (41, 42, 43))
    assert abs(int(b) - int(a)) > 1000 and abs(int(c) - int(b)) > 1000
    assert ticket_for(42, KEY) != ticket_for(42, bytes(32))  # the key decides, not the id
    # a single mistyped digit or swapped neighbours is never another well-formed ticket
    t = ticket_for(7, KEY)
    assert not well_formed(t[:3] + str((int(t[3]) + 1) % 10) + t[4:])
    assert t[4] == t[5] or not well_formed(t[:4] + t[5] + t[4] + t[6:])


async def test_filing_never_draws_random_numbers(app, make_user, monkeypatch):
    """Today's code looped on random draws for ever once a day's numbers collided."""
    monkeypatch.setattr(secrets, "randbelow", lambda n: 0)
    for i in range(3):
        reply = await asyncio.wait_for(
            make_user(f"o-r{i}").say("投诉 律师收了钱也不办事"), timeout=30
        )
        assert "编号" in reply
    assert len({c.ticket for c in await Complaint.all()}) == 3


async def test_many_users_at_once_get_distinct_tickets(app, make_user):
    users = [make_user(f"o-many-{i}") for i in range(24)]
    replies = await asyncio.gather(
        *(u.say(f"投诉 第{i}个人：律师态度很差") for i, u in enumerate(users * 2))
    )
    assert all("编号" in r for r in replies)
    tickets = [c.ticket for c in await Complaint.all()]
    assert len(tickets) == 48 and len(set(tickets)) == 48
    assert all(well_formed(t) for t in tickets)
    assert await StoredKey.all().count() == 1  # one key, shared by everyone


async def test_one_user_is_limited_per_day_with_the_hotline(app, user):
    await add_staff("王主任", "o-sup", supervisor=True)
    for i in range(5):
        assert "编号" in await user.say(f"投诉 第{i + 1}件：律师不回电话")
    alerts = await OutboxMessage.filter(recipient="o-sup").count()
    reply = await user.say("投诉 第6件：律师不回电话")
    assert "12348" in reply and "5 件" in reply and "编号" not in reply
    assert await Complaint.all().count() == 5
    assert await OutboxMessage.filter(recipient="o-sup").count() == alerts  # no staff alert
    guided = await user.say("投诉")  # the guided flow says so before asking anything
    assert "12348" in guided and "您要投诉的是" not in guided
    # tomorrow the allowance is back
    await Complaint.all().update(
        received_on=(await Complaint.first()).received_on - timedelta(days=1)
    )
    assert "编号" in await user.say("投诉 第二天：律师还是不回电话")


async def test_the_limit_comes_from_the_policy(app, aiohttp_client, settings, tmp_path):
    import json

    from bot.app import create_app
    from tests.conftest import WeChatUser

    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"base": "national", "complaint_daily_limit": 2}))
    client = await aiohttp_client(create_app(settings.model_copy(update={"policy": str(policy)})))
    u = WeChatUser(client, openid="o-two")
    assert "编号" in await u.say("投诉 第一件：律师不回电话")
    assert "编号" in await u.say("投诉 第二件：律师不回电话")
    assert "2 件" in await u.say("投诉 第三件：律师不回电话")
