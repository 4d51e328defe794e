"""The closed loop closes on the caseworker's verdict: the provider's outcome is a proposal, the director (or the
street's supervisor) confirms it after a follow-up visit, and the need, the referral and every report show that
verdict. The need changes state only through its lifecycle."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from marketplace import clock
from marketplace.cases.models import Need
from marketplace.referrals.history import ReferralHistory
from marketplace.referrals.models import Referral
from tests.cases.support import Cases
from tests.conftest import assert_problem


async def _completed(client: Any, auth: Any, cases: Cases, outcome: str = "got_help") -> int:
    """Referral A accepted, started and completed by its provider with ``outcome``."""
    rid, org = cases.referrals["A"], await auth("org")
    for step in ("accept", "start"):
        r = await client.post(f"/api/v1/referrals/{rid}/{step}", headers=org)
        assert r.status_code == 200, r.text
    r = await client.post(f"/api/v1/referrals/{rid}/complete", json={"outcome": outcome}, headers=org)
    assert r.status_code == 200, r.text
    return rid


async def _visit(client: Any, auth: Any, cases: Cases) -> None:
    r = await client.post(
        f"/api/v1/children/{cases.children['A']}/visits",
        json={"visited_on": clock.today().isoformat(), "kind": "follow_up", "findings": "回访"},
        headers=await auth("director"),
    )
    assert r.status_code == 201, r.text


async def _state(db: Any, cases: Cases) -> tuple[Referral, Need]:
    async with db.session(write=False) as s:
        r = await s.get(Referral, cases.referrals["A"])
        need = await s.get(Need, cases.needs["A"])
        assert r is not None and need is not None
        return r, need


async def test_a_partly_met_verdict_after_got_help_is_what_everything_shows(client, auth, cases: Cases, db) -> None:
    director = await auth("director")
    rid = await _completed(client, auth, cases, "got_help")
    await _visit(client, auth, cases)
    r = await client.post(
        f"/api/v1/referrals/{rid}/close",
        json={"verdict": "partly_met", "note": "情绪好转，学业仍需辅导"},
        headers=director,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "closed" and body["outcome"] == "got_help"
    assert body["verdict"] == "partly_met" and body["verdict_label"] == "需求部分满足"
    assert body["verdict_note"] == "情绪好转，学业仍需辅导"
    assert body["need_status"] == "partly_met" and body["need_status_label"] == "部分满足"
    need = (await client.get(f"/api/v1/needs/{cases.needs['A']}", headers=director)).json()
    assert need["status"] == "partly_met"
    stored, settled = await _state(db, cases)
    assert stored.follow_up_visit_id is not None and stored.verdict_by is not None
    assert settled.settled_at is not None and settled.settled_by == stored.verdict_by
    # The provider sees the verdict on its referral too, and is told of it; the director was asked to follow up.
    org = await auth("org")
    assert (await client.get(f"/api/v1/referrals/{rid}", headers=org)).json()["verdict"] == "partly_met"
    told = (await client.get("/api/v1/notifications", headers=org)).json()["items"]
    assert any(n["kind"] == "referral_close" and "需求部分满足" in n["body"] for n in told), told
    asked = (await client.get("/api/v1/notifications", headers=director)).json()["items"]
    assert any(n["kind"] == "referral_complete" and "回访" in n["body"] for n in asked), asked

    admin = await auth("admin")
    coverage = (await client.get("/api/v1/reports/coverage", headers=admin)).json()
    assert coverage["met_needs"] == 0 and coverage["partly_met_needs"] == 1
    assert coverage["needs_by_status"]["partly_met"] == 1
    psych = next(c for c in coverage["by_category"] if c["category"] == "psych_counselling")
    assert psych["partly_met_needs"] == 1 and psych["met_needs"] == 0
    report = (await client.get("/api/v1/reports/referrals", headers=admin)).json()
    assert {v["verdict"]: v["count"] for v in report["by_verdict"]} == {
        "met": 0,
        "partly_met": 1,
        "not_met": 0,
        "withdrawn": 0,
    }
    today = clock.today()
    quarter = (today.month - 1) // 3 + 1
    dispatch = (
        await client.get(f"/api/v1/reports/quarterly?year={today.year}&quarter={quarter}", headers=admin)
    ).json()
    assert dispatch["progress"]["needs_met"] == 0 and dispatch["progress"]["needs_partly_met"] == 1
    (case,) = dispatch["typical_cases"]
    assert case["verdict"] == "partly_met" and case["outcome"] == "got_help"
    # Matching weighs the provider by the verdict: half a child helped, not a whole one.
    async with db.session(write=False) as s:
        record = (await ReferralHistory().providers(s, [stored.organization_id], clock.now() - dt.timedelta(days=1)))[
            stored.organization_id
        ]
    assert record.finished == 1 and record.got_help == 0.5


async def test_a_completed_referral_only_proposes(client, auth, cases: Cases, db) -> None:
    await _completed(client, auth, cases, "no_longer_needed")
    r, need = await _state(db, cases)
    assert need.status == "in_service" and need.settled_at is None
    coverage = (await client.get("/api/v1/reports/coverage", headers=await auth("admin"))).json()
    assert coverage["needs_by_status"]["in_service"] == 1 and coverage["needs_by_status"]["withdrawn"] == 0
    report = (await client.get("/api/v1/reports/referrals", headers=await auth("admin"))).json()
    assert report["awaiting_verdict"] == 1 and sum(v["count"] for v in report["by_verdict"]) == 0
    # Nor does the provider's record count it yet.
    async with db.session(write=False) as s:
        since = clock.now() - dt.timedelta(days=1)
        record = (await ReferralHistory().providers(s, [r.organization_id], since))[r.organization_id]
    assert record.responded == 1 and record.finished == 0 and record.got_help == 0


async def test_close_needs_a_verdict_and_the_follow_up_visit(client, auth, cases: Cases, db) -> None:
    director = await auth("director")
    rid = await _completed(client, auth, cases)
    url = f"/api/v1/referrals/{rid}/close"
    # The follow-up visit comes first.
    body = assert_problem(await client.post(url, json={"verdict": "met"}, headers=director), 409)
    assert body["reason"] == "follow_up_visit_missing"
    await _visit(client, auth, cases)
    # No verdict, an unknown one, or a reopening of a met need: refused, nothing changes.
    assert_problem(await client.post(url, headers=director), 400)
    assert_problem(await client.post(url, json={}, headers=director), 400)
    assert_problem(await client.post(url, json={"verdict": "got_help"}, headers=director), 400)
    assert_problem(await client.post(url, json={"verdict": "met", "surprise": 1}, headers=director), 400)
    reopen = assert_problem(await client.post(url, json={"verdict": "met", "reopen_need": True}, headers=director), 422)
    assert reopen["errors"][0]["field"] == "reopen_need"
    r, need = await _state(db, cases)
    assert r.status == "completed" and r.verdict is None and r.closed_at is None and r.follow_up_visit_id is None
    assert need.status == "in_service" and need.settled_at is None
    # Only the child's director or the street's supervisor closes: not the provider, nor another community.
    assert_problem(await client.post(url, json={"verdict": "met"}, headers=await auth("org")), 403)
    assert_problem(await client.post(url, json={"verdict": "met"}, headers=await auth("director2")), 404)
    assert_problem(await client.post(url, json={"verdict": "met"}, headers=await auth("auditor")), 403)
    assert (await _state(db, cases))[0].status == "completed"
    closed = await client.post(url, json={"verdict": "met"}, headers=await auth("supervisor"))
    assert closed.status_code == 200, closed.text
    assert closed.json()["verdict"] == "met" and closed.json()["need_status"] == "met"
    # Closed once: a second close is the state machine's conflict.
    assert_problem(await client.post(url, json={"verdict": "not_met"}, headers=director), 409)


async def test_decline_and_revoke_reopen_the_need(client, auth, cases: Cases, world, db) -> None:
    director3, org2 = await auth("director3"), await auth("org2")
    need_c = cases.needs["C"]

    async def need_status(need_id: int, h: dict[str, str]) -> str:
        return str((await client.get(f"/api/v1/needs/{need_id}", headers=h)).json()["status"])

    assert await need_status(need_c, director3) == "matched"
    r = await client.post(
        f"/api/v1/referrals/{cases.referrals['C']}/decline", json={"reason": "名额已满"}, headers=org2
    )
    assert r.json()["need_status"] == "open"
    # Revoked while sent, accepted, or in service: the need goes back to the open list each time.
    director, org = await auth("director"), await auth("org")
    need_a = cases.needs["A"]
    rid = cases.referrals["A"]
    for steps in ((), ("accept",), ("accept", "start")):
        if rid is None:
            sent = await client.post(
                "/api/v1/referrals", json={"need_id": need_a, "service_id": world.services[0]}, headers=director
            )
            assert sent.status_code == 201, sent.text
            rid = sent.json()["id"]
        for step in steps:
            assert (await client.post(f"/api/v1/referrals/{rid}/{step}", headers=org)).status_code == 200
        expected = "in_service" if "start" in steps else "matched"
        assert await need_status(need_a, director) == expected
        revoked = await client.post(f"/api/v1/referrals/{rid}/revoke", json={"reason": "改派"}, headers=director)
        assert revoked.status_code == 200, revoked.text
        assert revoked.json()["need_status"] == "open" and await need_status(need_a, director) == "open"
        rid = None


async def test_reopen_need_after_not_met_lets_a_second_referral_be_sent(client, auth, cases: Cases, world) -> None:
    director = await auth("director")
    rid = await _completed(client, auth, cases, "could_not_contact")
    await _visit(client, auth, cases)
    r = await client.post(
        f"/api/v1/referrals/{rid}/close",
        json={"verdict": "not_met", "note": "机构未联系上家庭", "reopen_need": True},
        headers=director,
    )
    assert r.status_code == 200, r.text
    assert r.json()["verdict"] == "not_met" and r.json()["need_status"] == "open"
    again = await client.post(
        "/api/v1/referrals", json={"need_id": cases.needs["A"], "service_id": world.services[0]}, headers=director
    )
    assert again.status_code == 201, again.text
    assert again.json()["need_status"] == "matched" and again.json()["verdict"] is None


async def test_without_reopening_a_not_met_need_takes_no_referral_until_reopened(client, auth, cases: Cases, world):
    director = await auth("director")
    rid = await _completed(client, auth, cases, "could_not_contact")
    await _visit(client, auth, cases)
    r = await client.post(f"/api/v1/referrals/{rid}/close", json={"verdict": "not_met"}, headers=director)
    assert r.json()["need_status"] == "not_met"
    send = {"need_id": cases.needs["A"], "service_id": world.services[0]}
    assert assert_problem(await client.post("/api/v1/referrals", json=send, headers=director), 409)
    # An illegal need transition names the ones allowed from where the need is.
    need_url = f"/api/v1/needs/{cases.needs['A']}"
    body = assert_problem(await client.patch(need_url, json={"status": "withdrawn"}, headers=director), 409)
    assert body["current_status"] == "not_met" and body["allowed"] == ["reopen"]
    reopened = await client.patch(need_url, json={"status": "open"}, headers=director)
    assert reopened.status_code == 200 and reopened.json()["status"] == "open"
    body = assert_problem(await client.patch(need_url, json={"status": "open"}, headers=director), 409)
    assert body["current_status"] == "open" and body["allowed"] == ["match", "withdraw"]
    assert (await client.post("/api/v1/referrals", json=send, headers=director)).status_code == 201


async def test_withdraw_a_need(client, auth, cases: Cases, db) -> None:
    h = await auth("director2")
    url = f"/api/v1/needs/{cases.needs['B']}"
    assert_problem(await client.patch(url, json={"status": "met"}, headers=h), 400)
    r = await client.patch(url, json={"status": "withdrawn"}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    async with db.session(write=False) as s:
        need = await s.scalar(select(Need).where(Need.id == cases.needs["B"]))
        assert need is not None and need.settled_at is not None
    body = assert_problem(await client.patch(url, json={"status": "withdrawn"}, headers=h), 409)
    assert body["current_status"] == "withdrawn" and body["allowed"] == []
    # A need a referral holds changes with the referral: revoke it first.
    director = await auth("director")
    held = assert_problem(
        await client.patch(f"/api/v1/needs/{cases.needs['A']}", json={"status": "withdrawn"}, headers=director), 409
    )
    assert held["current_status"] == "matched"
    # The list filters by the lifecycle's statuses.
    listed = (await client.get("/api/v1/needs?status=withdrawn", headers=h)).json()
    assert [n["id"] for n in listed["items"]] == [cases.needs["B"]]
    assert_problem(await client.get("/api/v1/needs?status=cancelled", headers=h), 400)
