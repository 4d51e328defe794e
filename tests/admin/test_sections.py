"""The console's fund, procurement and audit sections: who may open them, and the actions they offer."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from marketplace.audit import service as audit
from marketplace.funds import service as funds
from marketplace.funds.models import Donation, Donor, Reconciliation, ReconciliationDifference
from marketplace.procurement.models import Milestone
from tests.admin.console import console_login, csrf_of, htmx
from tests.procurement.helpers import line_id, make_budget, signed_contract


async def open_difference(db: Any) -> int:
    async with db.session() as s:
        fund = await funds.ensure_fund(s, code="futian_public_welfare", name="福田区关爱儿童公益基金")
        donor = Donor(name="张三爱心捐赠", kind="individual")
        s.add(donor)
        await s.flush()
        s.add(
            Donation(
                fund_id=fund.id,
                donor_id=donor.id,
                amount_fen=50_000,
                channel="bank_transfer",
                status="succeeded",
                received_on=dt.date(2026, 11, 2),
            )
        )
        recon = Reconciliation(
            fund_id=fund.id,
            source="bank",
            since=dt.date(2026, 11, 1),
            until=dt.date(2026, 11, 7),
            matched=1,
            ours_count=1,
            theirs_count=2,
            differences=[ReconciliationDifference(n=1, kind="missing_here", external_id="BANK-77", actual_fen=12_300)],
        )
        s.add(recon)
        await s.flush()
        return recon.id


async def difference(db: Any, recon_id: int) -> ReconciliationDifference:
    async with db.session() as s:
        found = await s.scalar(
            select(ReconciliationDifference).where(ReconciliationDifference.reconciliation_id == recon_id)
        )
        assert found is not None
        return found


async def test_funds_page_for_its_readers_only(client, world, db) -> None:
    recon_id = await open_difference(db)
    for user in ("fund", "admin", "auditor"):
        await console_login(client, user)
        page = await client.get("/admin/funds")
        assert page.status_code == 200, (user, page.text)
        assert "张三爱心捐赠" in page.text and "¥500.00" in page.text
        assert "公益基金" in (await client.get("/admin/")).text
        runs = await client.get("/admin/funds/reconciliations")
        assert runs.status_code == 200 and "BANK-77" in runs.text
        # Only the fund manager gets the resolve form.
        assert (f"/reconciliations/{recon_id}/differences/1/resolve" in runs.text) == (user == "fund")
    for user in ("procurement", "supervisor", "org"):
        await console_login(client, user)
        assert (await client.get("/admin/funds")).status_code == 403, user
    client.cookies.clear()
    r = await client.get("/admin/funds", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/admin/login")


async def test_fund_manager_resolves_a_difference_with_csrf_and_a_note(client, world, db) -> None:
    recon_id = await open_difference(db)
    url = f"/admin/funds/reconciliations/{recon_id}/differences/1/resolve"
    csrf = await console_login(client, "fund")
    r = await client.post(url, data={"note": "银行退汇"}, headers={"HX-Request": "true", "X-CSRF-Token": "forged"})
    assert r.status_code == 403
    r = await client.post(url, data={"note": "  "}, headers=htmx(csrf))
    assert r.status_code == 422
    assert (await difference(db, recon_id)).resolved_at is None
    r = await client.post(url, data={"kind": "timing", "note": "银行退汇，已与出纳核实"}, headers=htmx(csrf))
    assert r.status_code == 200 and "已处理" in r.text and "hx-swap-oob" in r.text
    diff = await difference(db, recon_id)
    assert diff.resolved_at is not None and diff.resolution_note == "银行退汇，已与出纳核实"
    assert diff.resolved_by == world.users["fund"]
    # A second resolve is the service's conflict, shown as a message.
    r = await client.post(url, data={"kind": "timing", "note": "再次"}, headers=htmx(csrf))
    assert r.status_code == 409 and r.headers["hx-retarget"] == "#flash"
    assert (
        await client.post(
            f"/admin/funds/reconciliations/{recon_id}/differences/9/resolve",
            data={"kind": "timing", "note": "x"},
            headers=htmx(csrf),
        )
    ).status_code == 404


async def test_readers_cannot_resolve(client, world, db) -> None:
    recon_id = await open_difference(db)
    for user in ("admin", "auditor"):
        csrf = await console_login(client, user)
        r = await client.post(
            f"/admin/funds/reconciliations/{recon_id}/differences/1/resolve",
            data={"kind": "timing", "note": "x"},
            headers=htmx(csrf),
        )
        assert r.status_code == 403, user
    assert (await difference(db, recon_id)).resolved_at is None


async def test_plain_form_resolve_redirects_back(client, world, db) -> None:
    recon_id = await open_difference(db)
    csrf = await console_login(client, "fund")
    r = await client.post(
        f"/admin/funds/reconciliations/{recon_id}/differences/1/resolve",
        data={"_csrf_token": csrf, "kind": "timing", "note": "渠道延迟到账"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/admin/funds/reconciliations/{recon_id}"
    assert (await difference(db, recon_id)).resolution_note == "渠道延迟到账"


async def a_contract(client: Any, auth: Any, world: Any) -> dict[str, Any]:
    budget = await make_budget(client, await auth("procurement"))
    return await signed_contract(client, auth, line_id(budget, "purchase_services"), world.orgs[0], 1_000_000)


async def test_procurement_page_for_its_readers(client, auth, world) -> None:
    contract = await a_contract(client, auth, world)
    first = contract["milestones"][0]["id"]
    for user in ("procurement", "admin", "auditor"):
        await console_login(client, user)
        page = await client.get("/admin/procurement")
        assert page.status_code == 200, (user, page.text)
        # purchase_services: 1,000,000 yuan appropriated, the 10,000-yuan contract committed.
        assert "购买服务" in page.text and "¥1,000,000.00" in page.text and "¥990,000.00" in page.text
        assert "首期服务交付" in page.text and "逾期" in page.text
        assert (f"/milestones/{first}/accept" in page.text) == (user == "procurement")
    # The fund manager reads budgets (the procurement service allows it) but not contracts.
    await console_login(client, "fund")
    page = await client.get("/admin/procurement")
    assert page.status_code == 200 and "购买服务" in page.text and "首期服务交付" not in page.text
    for user in ("supervisor", "org", "director"):
        await console_login(client, user)
        assert (await client.get("/admin/procurement")).status_code == 403, user


async def milestone(db: Any, milestone_id: int) -> Milestone:
    async with db.session() as s:
        found = await s.get(Milestone, milestone_id)
        assert found is not None
        return found


async def test_officer_accepts_a_milestone(client, auth, world, db) -> None:
    contract = await a_contract(client, auth, world)
    mid = contract["milestones"][0]["id"]
    url = f"/admin/procurement/contracts/{contract['id']}/milestones/{mid}/accept"
    csrf = await console_login(client, "procurement")
    r = await client.post(url, data={"evidence": "台账.pdf"}, headers={"HX-Request": "true"})
    assert r.status_code == 403
    r = await client.post(url, data={"evidence": " "}, headers=htmx(csrf))
    assert r.status_code == 422
    r = await client.post(url, data={"evidence": "台账.pdf", "accepted_on": "not-a-date"}, headers=htmx(csrf))
    assert r.status_code == 422
    assert (await milestone(db, mid)).status == "pending"
    r = await client.post(url, data={"evidence": "服务台账.pdf", "note": "资料齐全"}, headers=htmx(csrf))
    assert r.status_code == 200 and "已验收" in r.text and "hx-swap-oob" in r.text
    m = await milestone(db, mid)
    assert m.status == "accepted" and m.evidence == [{"name": "服务台账.pdf", "url": ""}]
    assert m.accepted_by == world.users["procurement"]
    r = await client.post(url, data={"evidence": "again.pdf"}, headers=htmx(csrf))
    assert r.status_code == 409
    # Other readers may not accept.
    other = contract["milestones"][1]["id"]
    csrf = await console_login(client, "admin")
    r = await client.post(
        f"/admin/procurement/contracts/{contract['id']}/milestones/{other}/accept",
        data={"evidence": "x.pdf"},
        headers=htmx(csrf),
    )
    assert r.status_code == 403
    assert (await milestone(db, other)).status == "pending"


async def test_audit_log_newest_first_and_paginated(client, world, db) -> None:
    async with db.session() as s:
        for i in range(60):
            await audit.record(s, None, "read", "child", 1000 + i, ["id_number"])
    for user in ("admin", "auditor"):
        await console_login(client, user)
        page = await client.get("/admin/audit?entity=child")
        assert page.status_code == 200
        assert page.text.index("child #1059") < page.text.index("child #1058")
        assert "child #1009" not in page.text and "第 1 / 2 页" in page.text
        second = await client.get("/admin/audit?entity=child&page=2")
        assert "child #1009" in second.text and "child #1010" not in second.text
    for user in ("fund", "procurement", "supervisor", "org"):
        await console_login(client, user)
        assert (await client.get("/admin/audit")).status_code == 403, user
    await console_login(client, "admin")
    for url in ("/admin/audit?page=0", "/admin/audit?page=x", "/admin/funds?page=-1"):
        r = await client.get(url)
        assert 400 <= r.status_code < 500, url


async def test_section_pages_never_500(client, world) -> None:
    csrf = await console_login(client, "procurement")
    r = await client.post(
        "/admin/procurement/contracts/999999/milestones/1/accept", data={"evidence": "a"}, headers=htmx(csrf)
    )
    assert r.status_code == 404
    page = await client.get("/admin/procurement")
    assert page.status_code == 200 and "暂无合同" in page.text
    assert csrf_of(page.text) == csrf


async def test_case_board_is_scoped_and_flags_overdue_visits(client, world, db) -> None:
    from tests.reports.data import build_cases

    async with db.session() as s:
        await build_cases(s, world)
    expected = {
        "director": {"张小明1", "张小明2"},
        "director2": {"张小明3"},
        "supervisor": {"张小明1", "张小明2", "张小明3"},
        "supervisor2": {"张小明4"},
        "admin": {"张小明1", "张小明2", "张小明3", "张小明4"},
        "auditor": {"张小明1", "张小明2", "张小明3", "张小明4"},
    }
    for user, names in expected.items():
        await console_login(client, user)
        page = await client.get("/admin/cases")
        assert page.status_code == 200, (user, page.text)
        shown = {f"张小明{n}" for n in range(1, 5) if f"张小明{n}<" in page.text}
        assert shown == names, user
        assert ("逾期 3 天" in page.text) == ("张小明1" in names), user
        # Summary only: no identity number or its masked form on the board.
        assert "id_number" not in page.text and "身份证" not in page.text
    for user in ("fund", "procurement", "org"):
        await console_login(client, user)
        assert (await client.get("/admin/cases")).status_code == 403, user
    async with db.session() as s:
        _, logged = await audit.list_entries(
            s, audit_reader(world), audit.AuditFilters(entity="child", action="list"), limit=1, offset=0
        )
    assert logged > 0


def audit_reader(world: Any) -> Any:
    from marketplace.auth.principal import Principal

    return Principal(user_id=world.users["auditor"], username="auditor", role="auditor")
