"""Rules corrected against the law: criminal defence on other reasons (Art. 24), exempt groups
need proof (Art. 42), the migrant workers' green channel whatever the hardship path."""

from __future__ import annotations

from dataclasses import replace

import pytest

from models.application import Application, Material
from tests.applications_support import agent_token, body, file
from tests.test_domain_eligibility import (
    NATIONAL,
    TODAY,
    check_application,
    codes,
    exempt_app,
    pledge_app,
)

# --- Art. 24: 因经济困难或者其他原因 -------------------------------------------------------------


def test_criminal_defence_may_rest_on_other_reasons() -> None:
    app = replace(
        pledge_app(
            matter="criminal_defense", hardship_basis="other_reason", statement=None, pledge=None
        ),
        other_reason="同案其他被告人均已委托辩护人",
    )
    result = check_application(app, NATIONAL, TODAY)
    assert result.ok, result.violations
    assert result.hardship_basis == "other_reason"


def test_other_reasons_need_the_reason_and_only_fit_criminal_defence() -> None:
    no_reason = pledge_app(
        matter="criminal_defense", hardship_basis="other_reason", statement=None, pledge=None
    )
    assert codes(check_application(no_reason, NATIONAL, TODAY)) == [
        "hardship.other_reason_required"
    ]
    civil = replace(
        pledge_app(hardship_basis="other_reason", statement=None, pledge=None), other_reason="想要"
    )
    assert codes(check_application(civil, NATIONAL, TODAY)) == ["hardship.other_reason_matter"]


# --- Art. 42: 有材料证明 --------------------------------------------------------------------------


def test_exempt_without_proof_lists_the_proof_as_missing() -> None:
    result = check_application(exempt_app("support_payment", "social_assistance"), NATIONAL, TODAY)
    assert result.ok and result.missing_materials == ("exemption_proof",)
    assert result.materials_due is not None


def test_exempt_with_proof_in_hand_owes_nothing() -> None:
    app = replace(
        exempt_app("support_payment", "social_assistance"),
        materials=[("exemption_proof", "provided")],
    )
    assert check_application(app, NATIONAL, TODAY).missing_materials == ()


# --- green channel -------------------------------------------------------------------------------


@pytest.mark.parametrize("matter", ["labor_remuneration", "work_injury"])
def test_migrant_worker_claims_with_a_pledge_take_the_green_channel(matter: str) -> None:
    result = check_application(
        replace(pledge_app(matter=matter), migrant_worker=True), NATIONAL, TODAY
    )
    assert result.ok and result.urgent and result.urgent_reasons == ("green.migrant_wage",)


def test_work_injury_of_an_exempt_migrant_worker_takes_the_green_channel() -> None:
    result = check_application(exempt_app("work_injury", "migrant_worker"), NATIONAL, TODAY)
    assert result.urgent_reasons == ("green.migrant_wage",)


def test_other_matters_or_non_migrants_do_not() -> None:
    assert not check_application(pledge_app(matter="labor_remuneration"), NATIONAL, TODAY).urgent
    assert not check_application(replace(pledge_app(), migrant_worker=True), NATIONAL, TODAY).urgent


# --- through the API -----------------------------------------------------------------------------


async def test_api_files_other_reasons_proof_owed_and_the_migrant_flag(app, fake_wechat):
    token, _ = await agent_token(app, fake_wechat)

    async def post(**changes) -> dict:
        resp = await file(app, token, body(**changes))
        assert resp.status == 201, await resp.text()
        return await resp.json()

    made = await post(
        matter="criminal_defense",
        hardship={"basis": "other_reason", "other_reason": "案件有重大社会影响"},
    )
    assert made["hardship_basis"] == "other_reason"
    assert (await Application.get(id=made["id"])).other_reason == "案件有重大社会影响"

    made = await post(
        hardship={"basis": "exempt", "exempt_category": "social_assistance"},
        materials=[{"kind": "id_document", "status": "provided"}],
        missing_materials_acknowledged=True,
    )
    assert made["missing_materials"] == ["exemption_proof"] and "经济困难" in made["notice"]
    assert "视为撤回申请" in made["notice"]  # national: before a decision (程序规定)
    assert await Material.filter(
        application_id=made["id"], kind="exemption_proof", status="missing"
    ).exists()

    made = await post(matter="work_injury", **{"applicant.migrant_worker": True})
    assert made["urgent"] is True
    assert not (await post(matter="work_injury"))["urgent"]


# --- in chat -------------------------------------------------------------------------------------


async def _chat_to_hardship(make_user, matter_no: str):
    from tests.test_applications_chat import OLD_ID, bound_user, start_filing

    u, _ = await bound_user(make_user)
    await start_filing(u)
    reply = None
    for answer in [
        matter_no,
        "李四",
        OLD_ID,
        "13812345678",
        "东浦村",
        "案情经过如下。",
        "无",
        "无",
    ]:
        reply = await u.say(answer)
    return u, reply


async def test_chat_criminal_defence_on_other_reasons(app, make_user):
    u, reply = await _chat_to_hardship(make_user, "16")  # 犯罪嫌疑人、被告人申请辩护
    assert "3. 因其他原因" in reply
    assert "其他原因" in await u.say("3")
    assert "材料清单" in await u.say("同案其他被告人均已委托辩护人")
    summary = await u.say("齐全")
    assert "同案其他被告人" in summary
    await u.say("1")
    row = await Application.get()
    assert (row.hardship_basis, row.other_reason) == (
        "other_reason",
        "同案其他被告人均已委托辩护人",
    )


async def test_chat_asks_whether_a_work_injury_claimant_is_a_migrant_worker(app, make_user):
    u, reply = await _chat_to_hardship(make_user, "7")  # 工伤
    assert "城乡务工人员" in reply
    assert "认定" in await u.say("1")
    assert await u.say("2")  # pledge
    for answer in [
        "3",
        "1800",
        "务农",
        "无",
        "1",
        "2",
        "纸质留存",
        "齐全",
    ]:  # fingerprint, paper kept
        reply = await u.say(answer)
    assert "城乡务工人员：是" in reply
    await u.say("1")
    row = await Application.get()
    assert row.migrant_worker and row.urgent and row.urgent_reasons == ["green.migrant_wage"]
