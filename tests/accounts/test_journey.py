"""The issue's journeys through the HTTP API: an organization joins, and a community changes director."""

from __future__ import annotations

import datetime as dt

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from marketplace import clock
from marketplace.accounts.models import Handover
from marketplace.cases.models import Notification
from marketplace.db import Database, utcnow
from marketplace.resources.models import Organization
from tests.accounts.support import NEW_PASSWORD, activate, application, audit_actions, audit_details, login
from tests.cases.support import Cases
from tests.conftest import Auth
from tests.support.world import World


async def test_an_organization_applies_is_approved_and_its_admin_invites_staff_who_list_a_service(
    client: AsyncTestClient[Litestar], world: World, db: Database, auth: Auth
) -> None:
    admin = await auth("admin")
    # The public application: no token.
    r = await client.post("/api/v1/organization-applications", json=application(street_ids=[world.streets[0]]))
    assert r.status_code == 201, r.text
    receipt = r.json()
    app_id, reference = receipt["id"], receipt["reference"]
    assert receipt["status"] == "submitted" and len(reference) >= 24

    # The district hears of it.
    r = await client.get("/api/v1/notifications", headers=admin)
    assert any(n["entity"] == "organization_application" and n["entity_id"] == app_id for n in r.json()["items"])

    # The district asks for more; the applicant reads why and supplements with its reference.
    r = await client.post(
        f"/api/v1/organization-applications/{app_id}/request-more", json={"reason": "请补充登记证书"}, headers=admin
    )
    assert r.status_code == 200 and r.json()["status"] == "needs_more", r.text
    r = await client.post(f"/api/v1/organization-applications/{app_id}/status", json={"reference": reference})
    assert r.status_code == 200 and r.json()["review_note"] == "请补充登记证书"
    wrong = await client.post(f"/api/v1/organization-applications/{app_id}/status", json={"reference": "x" * 32})
    assert wrong.status_code == 404
    more = application(street_ids=[world.streets[0]], qualifications="登记证书编号 51440304-XYZ，专职社工 12 名。")
    r = await client.post(
        f"/api/v1/organization-applications/{app_id}/supplement",
        json={"reference": reference, "application": more},
    )
    assert r.status_code == 200 and r.json()["status"] == "submitted", r.text

    # Approval creates the organization (approved) and its admin, whose activation code is shown once.
    r = await client.post(f"/api/v1/organization-applications/{app_id}/approve", headers=admin)
    assert r.status_code == 200, r.text
    approval = r.json()
    org_id = approval["organization_id"]
    assert approval["application"]["status"] == "approved"
    code, org_admin = approval["admin"]["code"], approval["admin"]["username"]
    async with db.session(write=False) as session:
        org = await session.get(Organization, org_id)
        assert org is not None and org.status == "approved" and org.credit_code == more["credit_code"]
    r = await client.get(f"/api/v1/users/{approval['admin']['user_id']}", headers=admin)
    assert r.json()["is_org_admin"] and r.json()["must_change_password"] and r.json()["organization_id"] == org_id
    # A second application for the same organization is a conflict.
    again = await client.post("/api/v1/organization-applications", json=application(street_ids=[world.streets[0]]))
    assert again.status_code == 409

    # The org admin activates with the code and signs in with its own password.
    await activate(client, org_admin, code)
    boss = await login(client, org_admin)

    # It invites a staff member of its organization, who activates, logs in and lists a service.
    r = await client.post(
        "/api/v1/users",
        json={"username": "zhou.staff", "display_name": "周小燕", "phone": "13712345678", "role": "org_staff"},
        headers=boss,
    )
    assert r.status_code == 201, r.text
    staff = r.json()
    assert staff["user"]["organization_id"] == org_id and not staff["user"]["is_org_admin"]
    await activate(client, "zhou.staff", staff["activation"]["code"], "Another-long-passphrase-8")
    member = await login(client, "zhou.staff", "Another-long-passphrase-8")
    r = await client.post(
        "/api/v1/services",
        json={
            "organization_id": org_id,
            "title": "青少年情绪支持小组",
            "categories": ["emotional_support"],
            "capacity_per_month": 8,
        },
        headers=member,
    )
    assert r.status_code == 201, r.text
    r = await client.get(f"/api/v1/users?organization_id={org_id}", headers=boss)
    assert {u["username"] for u in r.json()["items"]} == {org_admin, "zhou.staff"}

    actions = [a[0] for a in await audit_actions(db)]
    for action in ("application.submit", "application.request_more", "application.supplement", "application.approve"):
        assert action in actions
    assert actions.count("user.create") == 2
    # No code or reference in the audit trail.
    text = repr(await audit_details(db))
    for secret in (code, staff["activation"]["code"], reference, NEW_PASSWORD):
        assert secret not in text


async def test_a_director_is_handed_over_and_the_new_one_sees_the_caseload(
    client: AsyncTestClient[Litestar], world: World, cases: Cases, db: Database, auth: Auth
) -> None:
    admin = await auth("admin")
    old = await auth("director")
    old_id = world.users["director"]
    fushan = world.communities[0]
    async with db.session() as session:
        session.add_all(
            [
                Notification(
                    key=f"referral-accepted:{cases.referrals['A']}:{old_id}",
                    recipient_id=old_id,
                    kind="referral_accepted",
                    title="转介已接收",
                    entity="referral",
                    entity_id=cases.referrals["A"],
                ),
                Notification(
                    key=f"old-news:{old_id}",
                    recipient_id=old_id,
                    kind="note",
                    title="已读的旧通知",
                    entity="referral",
                    entity_id=cases.referrals["A"],
                    read_at=utcnow() - dt.timedelta(days=1),
                ),
            ]
        )
    # The next director: an account of the same community, activated.
    r = await client.post(
        "/api/v1/users",
        json={
            "username": "director.next",
            "display_name": "林接任",
            "phone": "13612345678",
            "role": "child_director",
            "community_id": fushan,
        },
        headers=admin,
    )
    assert r.status_code == 201, r.text
    new_id = r.json()["user"]["id"]
    assert r.json()["user"]["street_id"] == world.streets[0]  # derived from the community
    await activate(client, "director.next", r.json()["activation"]["code"])

    r = await client.post("/api/v1/handovers", json={"from_user_id": old_id, "to_user_id": new_id}, headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["community_id"] == fushan and r.json()["role"] == "child_director"

    # The old token is dead; the old account is disabled.
    assert (await client.get("/api/v1/children", headers=old)).status_code == 401
    r = await client.get(f"/api/v1/users/{old_id}", headers=admin)
    assert r.json()["is_active"] is False and r.json()["disabled_at"] is not None

    new = await login(client, "director.next")
    children = (await client.get("/api/v1/children", headers=new)).json()["items"]
    assert [c["id"] for c in children] == [cases.children["A"]]
    referrals = (await client.get("/api/v1/referrals", headers=new)).json()["items"]
    assert [x["id"] for x in referrals] == [cases.referrals["A"]]
    notes = (await client.get("/api/v1/notifications", headers=new)).json()
    assert [n["entity_id"] for n in notes["items"]] == [cases.referrals["A"]] and notes["unread"] == 1
    # A visit recorded by the new director keeps the file going.
    r = await client.post(
        f"/api/v1/children/{cases.children['A']}/visits",
        json={"visited_on": str(clock.today()), "kind": "home", "findings": "交接后首次走访"},
        headers=new,
    )
    assert r.status_code == 201, r.text

    # The provider answers the open referral: the news reaches the new director, not the old one.
    r = await client.post(f"/api/v1/referrals/{cases.referrals['A']}/accept", headers=await auth("org"))
    assert r.status_code == 200, r.text
    notes = (await client.get("/api/v1/notifications", headers=new)).json()
    assert notes["unread"] == 2 and notes["items"][0]["kind"] == "referral_accept"

    async with db.session(write=False) as session:
        row = await session.scalar(select(Handover))
        assert row is not None and row.moved.get("notifications") == 1
        read = await session.scalar(select(Notification).where(Notification.key == f"old-news:{old_id}"))
        assert read is not None and read.recipient_id == old_id  # read history stays with the old account
        left = await session.scalars(select(Notification).where(Notification.recipient_id == old_id))
        assert [n.key for n in left.all()] == [f"old-news:{old_id}"]
    handovers = [a for a in await audit_actions(db) if a[0] == "handover"]
    assert handovers == [("handover", "handover", row.id, "admin")]
    details = [d for d in await audit_details(db) if d.get("to_username") == "director.next"]
    assert details and details[0]["from_username"] == "director" and details[0]["community_id"] == fushan
