"""The console's verification page: the district and the auditor see the last result; the district runs one now;
a broken chain is named there (table, row, expected and found)."""

from __future__ import annotations

from sqlalchemy import func, select, text

from marketplace.audit import service as audit
from marketplace.audit.models import AuditEntry
from tests.admin.console import console_login
from tests.audit.tamper import owner


async def test_the_district_runs_a_verification_and_sees_the_first_broken_row(client, world, db) -> None:
    async with db.session() as s:
        await audit.record_many(s, None, "read", "child", [1, 2, 3], ["name"])
    csrf = await console_login(client, "admin")
    page = await client.get("/admin/audit/verify")
    assert page.status_code == 200 and "尚未核验" in page.text and "立即核验" in page.text
    r = await client.post("/admin/audit/verify", data={"_csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin/audit/verify"
    page = await client.get("/admin/audit/verify")
    assert "完整" in page.text and "控制台" in page.text

    async with owner(db) as s:
        await s.execute(text("UPDATE audit_log SET action = 'list' WHERE id = 2"))
    await client.post("/admin/audit/verify", data={"_csrf_token": csrf})
    page = await client.get("/admin/audit/verify")
    assert "已断裂" in page.text and "audit_log）#2" in page.text and "本行内容被改动" in page.text

    csrf = await console_login(client, "auditor")
    page = await client.get("/admin/audit/verify")
    assert page.status_code == 200 and "audit_log）#2" in page.text and "立即核验" not in page.text
    assert (await client.post("/admin/audit/verify", data={"_csrf_token": csrf})).status_code == 403


async def test_other_roles_may_not_see_or_run_it(client, world) -> None:
    for user in ("fund", "procurement", "supervisor", "director", "org"):
        csrf = await console_login(client, user)
        assert (await client.get("/admin/audit/verify")).status_code == 403, user
        assert (await client.post("/admin/audit/verify", data={"_csrf_token": csrf})).status_code == 403, user


async def test_a_refused_console_form_leaves_no_row_of_the_work_it_did_not_do(client, world, db) -> None:
    """The new-file form refused (no category: 422): the page comes back, and the log claims no creation."""
    csrf = await console_login(client, "director")
    async with db.session(write=False) as s:
        before = int(await s.scalar(select(func.coalesce(func.max(AuditEntry.id), 0))) or 0)
    r = await client.post("/admin/children/new", data={"_csrf_token": csrf, "name": "张三", "gender": "male"})
    assert r.status_code == 422 and "请至少选择一个儿童类别" in r.text
    async with db.session(write=False) as s:
        rows = list((await s.scalars(select(AuditEntry).where(AuditEntry.id > before))).all())
    assert [(x.action, x.entity) for x in rows if x.entity == "child"] == []
