"""The allowances console (/admin/allowances): the district approves the decisions the street reviewed, the
procurement officer prepares a month's run, the district previews and signs it off and fetches the bank file (the
API's bytes), the officer records it paid or withdraws it; the officer adds rates; the auditor reads without a form;
other roles are refused. Every refused form answers in place with the service's Chinese message, nothing changed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from marketplace.audit.models import AuditEntry
from marketplace.procurement.models import AllowanceRun, AllowanceStandard
from tests.admin.console import console_login, csrf_of
from tests.cases.support import Cases, cases
from tests.procurement.allowance_helpers import KID, YEAR, add_children, grant, same_download
from tests.procurement.helpers import make_budget

__all__ = ["cases"]

GRANT = {"action": "grant", "category": "orphan", "evidence": ["孤儿证明.pdf"]}
MONTH = f"{YEAR}-01"


async def post(client: Any, url: str, data: dict[str, str]) -> Any:
    page = await client.get("/admin/allowances")
    return await client.post(url, data={"_csrf_token": csrf_of(page.text), **data}, follow_redirects=False)


async def reviewed_decision(client: Any, auth: Any, cases: Cases) -> int:
    b = cases.children["B"]
    r = await client.post(f"/api/v1/children/{b}/allowance-decisions", json=GRANT, headers=await auth("director2"))
    assert r.status_code == 201, r.text
    decision = int(r.json()["id"])
    r = await client.post(
        f"/api/v1/allowance-decisions/{decision}/review", json={"approve": True}, headers=await auth("supervisor")
    )
    assert r.status_code in (200, 201), r.text
    return decision


async def status_of(client: Any, auth: Any, decision: int) -> str:
    r = await client.get(f"/api/v1/allowance-decisions/{decision}", headers=await auth("admin"))
    return str(r.json()["status"])


async def test_the_district_approves_or_refuses_a_reviewed_decision_in_place(client, auth, cases: Cases) -> None:
    decision = await reviewed_decision(client, auth, cases)
    await console_login(client, "admin")
    page = await client.get("/admin/allowances")
    assert page.status_code == 200, page.text
    assert f'id="decision-{decision}"' in page.text and "李小红" in page.text and "孤儿证明.pdf" in page.text
    assert '<a href="/admin/allowances"' in page.text or 'href="/admin/allowances"' in page.text
    url = f"/admin/allowances/decisions/{decision}/decide"
    refused = await post(client, url, {"decision": "reject", "note": ""})
    assert refused.status_code == 422 and "不予批准时请写明原因" in refused.text
    assert f'id="decision-{decision}-error"' in refused.text
    early = await post(client, url, {"decision": "approve", "effective_month": "2000-01", "note": "同意"})
    assert early.status_code == 422 and "起始规则" in early.text and 'value="2000-01"' in early.text
    odd = await post(client, url, {"decision": "approve", "effective_month": "2026-13"})
    assert odd.status_code == 422 and "生效月份" in odd.text
    nonsense = await post(client, url, {"decision": "maybe"})
    assert nonsense.status_code == 422 and "请选择批准或不予批准" in nonsense.text
    assert await status_of(client, auth, decision) == "reviewed"
    assert (await post(client, "/admin/allowances/decisions/999999/decide", {"decision": "approve"})).status_code == 404
    ok = await post(client, url, {"decision": "approve", "note": "材料齐全"})
    assert ok.status_code == 303 and ok.headers["location"] == "/admin/allowances?done=approved"
    assert await status_of(client, auth, decision) == "approved"
    again = await post(client, url, {"decision": "approve"})
    assert again.status_code == 409
    assert f'id="decision-{decision}"' not in (await client.get("/admin/allowances")).text


async def test_a_proposal_not_yet_reviewed_is_not_the_districts_to_approve(client, auth, cases: Cases) -> None:
    b = cases.children["B"]
    r = await client.post(f"/api/v1/children/{b}/allowance-decisions", json=GRANT, headers=await auth("director2"))
    decision = r.json()["id"]
    await console_login(client, "admin")
    assert f'id="decision-{decision}"' not in (await client.get("/admin/allowances")).text
    early = await post(client, f"/admin/allowances/decisions/{decision}/decide", {"decision": "approve"})
    assert early.status_code == 409 and "须先经街道儿童督导员审核" in early.text
    assert await status_of(client, auth, decision) == "proposed"


async def runs_count(db: Any) -> int:
    async with db.session(write=False) as s:
        return int(await s.scalar(select(func.count()).select_from(AllowanceRun)) or 0)


async def test_a_month_is_prepared_signed_downloaded_and_paid(client, auth, db, world, settings) -> None:
    await make_budget(client, await auth("procurement"), year=YEAR)
    ids = await add_children(db, world, [("甲", ["orphan"], "active", KID), ("乙", ["orphan"], "active", KID)])
    await grant(db, settings, ids, payee_name="王秀英")

    # The officer prepares the month; a bad month and a month already run change nothing.
    await console_login(client, "procurement")
    page = await client.get("/admin/allowances")
    assert page.status_code == 200 and 'action="/admin/allowances/runs"' in page.text
    assert "/decisions/" not in page.text
    bad = await post(client, "/admin/allowances/runs", {"month": "2026-13"})
    assert bad.status_code == 422 and "发放月份" in bad.text and 'value="2026-13"' in bad.text
    no_budget = await post(client, "/admin/allowances/runs", {"month": "1999-01"})
    assert no_budget.status_code == 409 and "尚无预算" in no_budget.text
    assert await runs_count(db) == 0
    made = await post(client, "/admin/allowances/runs", {"month": MONTH})
    assert made.status_code == 303, made.text
    run_url = made.headers["location"].split("?")[0]
    run_id = int(run_url.rsplit("/", 1)[1])
    again = await post(client, "/admin/allowances/runs", {"month": MONTH})
    assert again.status_code == 200 and "没有需要新列入名册的人员" in again.text and "已列入" in again.text
    assert await runs_count(db) == 1
    early = await post(client, f"{run_url}/pay", {})
    assert early.status_code == 409 and "尚未经区民政局签批" in early.text
    officer_view = (await client.get(run_url)).text
    assert "sign-form" not in officer_view and "bank-file" not in officer_view

    # The district previews it: names, payees, amounts in yuan, totals by rate; no account number.
    await console_login(client, "admin")
    preview = await client.get(run_url)
    assert preview.status_code == 200, preview.text
    api = (await client.get(f"/api/v1/allowances/runs/{run_id}", headers=await auth("admin"))).json()
    assert api["status"] == "prepared"
    assert "甲" in preview.text and "监护人 · 王秀英" in preview.text and "¥" in preview.text
    assert 'id="run-totals"' in preview.text and "622202" not in preview.text
    async with db.session(write=False) as s:
        reads = (
            await s.scalars(select(AuditEntry).where(AuditEntry.username == "admin", AuditEntry.entity == "child"))
        ).all()
    assert {e.entity_id for e in reads if "allowance_payments" in (e.fields or [])} >= set(ids)
    assert 'id="sign-form"' in preview.text and "pay-form" not in preview.text and "withdraw-form" not in preview.text
    assert (await client.get(f"{run_url}/bank-file")).status_code == 409
    signed = await post(client, f"{run_url}/sign-off", {"note": "核对无误"})
    assert signed.status_code == 303 and signed.headers["location"] == f"{run_url}?done=signed"
    twice = await post(client, f"{run_url}/sign-off", {"note": "再签"})
    assert twice.status_code == 409 and "不能再次签批" in twice.text
    shown = (await client.get(run_url)).text
    api = (await client.get(f"/api/v1/allowances/runs/{run_id}", headers=await auth("admin"))).json()
    assert api["status"] == "signed_off" and api["sign_off"]["note"] == "核对无误"
    assert api["sign_off"]["file_sha256"] in shown and api["sign_off"]["list_sha256"] in shown
    mine = await client.get(f"{run_url}/bank-file")
    theirs = await client.get(f"/api/v1/allowances/runs/{run_id}/bank-file", headers=await auth("admin"))
    assert mine.status_code == 200 and theirs.status_code == 200
    assert mine.content == theirs.content and mine.headers["content-type"] == theirs.headers["content-type"]
    assert mine.headers["content-type"] == "text/csv; charset=gbk"
    assert "attachment" in mine.headers["content-disposition"]
    assert (await post(client, f"{run_url}/pay", {})).status_code == 403

    # The officer records it paid, once; a paid run cannot be withdrawn.
    await console_login(client, "procurement")
    assert 'id="pay-form"' in (await client.get(run_url)).text
    paid = await post(client, f"{run_url}/pay", {})
    assert paid.status_code == 303 and paid.headers["location"] == f"{run_url}?done=paid"
    repaid = await post(client, f"{run_url}/pay", {})
    assert repaid.status_code == 409 and "不能重复发放" in repaid.text
    late = await post(client, f"{run_url}/withdraw", {"reason": "错发"})
    assert late.status_code == 409 and "不能撤销" in late.text
    api = (await client.get(f"/api/v1/allowances/runs/{run_id}", headers=await auth("admin"))).json()
    assert api["status"] == "paid"
    listing = (await client.get("/admin/allowances")).text
    assert f'id="run-{run_id}"' in listing and "已发放" in listing


async def test_a_run_is_withdrawn_with_a_reason_and_cannot_then_be_signed(client, auth, db, world, settings) -> None:
    await make_budget(client, await auth("procurement"), year=YEAR)
    ids = await add_children(db, world, [("甲", ["orphan"], "active", KID)])
    await grant(db, settings, ids)
    await console_login(client, "procurement")
    made = await post(client, "/admin/allowances/runs", {"month": MONTH})
    run_url = made.headers["location"].split("?")[0]
    run_id = int(run_url.rsplit("/", 1)[1])
    blank = await post(client, f"{run_url}/withdraw", {"reason": "  "})
    assert blank.status_code == 422 and "请写明撤销原因" in blank.text
    long = await post(client, f"{run_url}/withdraw", {"reason": "长" * 501})
    assert long.status_code == 422 and "撤销原因" in long.text
    api = (await client.get(f"/api/v1/allowances/runs/{run_id}", headers=await auth("admin"))).json()
    assert api["status"] == "prepared"
    done = await post(client, f"{run_url}/withdraw", {"reason": "收款人信息有误"})
    assert done.status_code == 303
    await console_login(client, "admin")
    refused = await post(client, f"{run_url}/sign-off", {})
    assert refused.status_code == 409 and "已撤销" in refused.text
    api = (await client.get(f"/api/v1/allowances/runs/{run_id}", headers=await auth("admin"))).json()
    assert api["status"] == "withdrawn" and api["sign_off"] is None and api["withdraw_reason"] == "收款人信息有误"
    assert (await client.get(f"{run_url}/bank-file")).status_code == 409


async def standards_count(db: Any) -> int:
    async with db.session(write=False) as s:
        return int(await s.scalar(select(func.count()).select_from(AllowanceStandard)) or 0)


async def test_the_officer_adds_a_rate_and_a_bad_one_changes_nothing(client, db) -> None:
    before = await standards_count(db)
    await console_login(client, "procurement")
    form = {
        "kind": "living_allowance",
        "category": "orphan",
        "region": "",
        "effective_from": f"{YEAR + 1}-01-01",
        "amount_yuan": "abc",
        "note": "深民发〔2026〕1号",
    }
    bad = await post(client, "/admin/allowances/standards", form)
    assert bad.status_code == 422 and "请填写金额" in bad.text and "深民发〔2026〕1号" in bad.text
    wrong = await post(client, "/admin/allowances/standards", {**form, "amount_yuan": "2000", "kind": "x"})
    assert wrong.status_code == 422 and "补贴类别须为" in wrong.text
    assert await standards_count(db) == before
    ok = await post(client, "/admin/allowances/standards", {**form, "amount_yuan": "2,180.50"})
    assert ok.status_code == 303, ok.text
    assert await standards_count(db) == before + 1
    page = (await client.get("/admin/allowances")).text
    assert "¥2,180.50" in page and f"{YEAR + 1}-01-01" in page
    clash = await post(client, "/admin/allowances/standards", {**form, "amount_yuan": "2200"})
    assert clash.status_code == 409 and "已有标准" in clash.text
    assert await standards_count(db) == before + 1


async def test_the_auditor_reads_without_a_form_and_other_roles_are_refused(
    client, auth, db, world, settings, cases: Cases
) -> None:
    decision = await reviewed_decision(client, auth, cases)
    await make_budget(client, await auth("procurement"), year=YEAR)
    ids = await add_children(db, world, [("甲", ["orphan"], "active", KID)])
    await grant(db, settings, ids)
    run = (
        await client.post("/api/v1/allowances/runs", json={"month": MONTH}, headers=await auth("procurement"))
    ).json()
    await console_login(client, "auditor")
    page = await client.get("/admin/allowances")
    assert page.status_code == 200 and f'id="decision-{decision}"' in page.text and f'id="run-{run["id"]}"' in page.text
    assert 'action="/admin/allowances' not in page.text
    shown = await client.get(f"/admin/allowances/runs/{run['id']}")
    assert shown.status_code == 200 and "甲" in shown.text and 'action="/admin/allowances' not in shown.text
    assert "补贴发放" in page.text
    denied = await post(client, f"/admin/allowances/decisions/{decision}/decide", {"decision": "approve"})
    assert denied.status_code == 403
    assert (await post(client, f"/admin/allowances/runs/{run['id']}/sign-off", {})).status_code == 403
    assert (await client.get(f"/admin/allowances/runs/{run['id']}/bank-file")).status_code == 403
    assert await status_of(client, auth, decision) == "reviewed"
    for username in ("director", "supervisor", "fund", "org"):
        await console_login(client, username)
        home = (await client.get("/admin/")).text
        assert 'href="/admin/allowances"' not in home
        assert (await client.get("/admin/allowances")).status_code in (403, 404)
        assert (await client.get(f"/admin/allowances/runs/{run['id']}")).status_code in (403, 404)
    assert (await client.get("/admin/allowances/runs/999999")).status_code in (403, 404)


# ---------------------------------------------------------------- festival and special runs, the quarter report


async def _festival_setup(
    client: Any, auth: Any, db: Any, world: Any, settings: Any
) -> tuple[dict[str, Any], list[int]]:
    budget = await make_budget(client, await auth("procurement"), year=YEAR)
    ids = await add_children(
        db, world, [("甲", ["orphan"], "active", KID), ("乙", ["de_facto_unsupported"], "active", KID)]
    )
    await grant(db, settings, [ids[0]], payee_name="王秀英")
    await grant(db, settings, [ids[1]], category="de_facto_unsupported", payee_name="李桂兰")
    return budget, ids


def _line(budget: dict[str, Any]) -> str:
    return str(next(x["id"] for x in budget["lines"] if x["code"] == "living_allowance"))


async def test_a_festival_run_is_prepared_with_progress_signed_and_reported(
    client, auth, db, world, settings, frozen_clock
) -> None:
    import datetime as dt

    frozen_clock(dt.datetime(YEAR, 2, 1, 4, 0, tzinfo=dt.UTC))
    budget, _ = await _festival_setup(client, auth, db, world, settings)
    await console_login(client, "procurement")
    page = await client.get("/admin/allowances")
    assert page.status_code == 200 and 'id="oneoff"' in page.text and "节日/专项发放" in page.text
    # The special rows list the eligible children (an audited read).
    assert "甲（孤儿）" in page.text or "甲（" in page.text
    form = {
        "kind": "festival",
        "title": f"{YEAR}年春节慰问",
        "pay_date": f"{YEAR}-02-10",
        "line_id": _line(budget),
        "amount_yuan": "500",
        "cat_orphan": "800",
    }
    # Bad input: answered in place with the message and the values posted; nothing written.
    for bad, message in (
        ({**form, "title": ""}, "请填写发放名称"),
        ({**form, "amount_yuan": "五百", "cat_orphan": ""}, "金额"),
        ({**form, "line_id": ""}, "列支的预算科目"),
        ({**form, "pay_date": f"{YEAR + 1}-02-10"}, "与发放日期"),
        ({**form, "kind": "lottery"}, "请选择节日慰问或临时/专项补助"),
    ):
        r = await post(client, "/admin/allowances/one-off", bad)
        assert r.status_code == 422, (bad, r.status_code)
        assert message in r.text and 'id="oneoff-error"' in r.text, message
        if bad["title"]:
            assert f'value="{bad["title"]}"' in r.text
    assert await runs_count(db) == 0
    made = await post(client, "/admin/allowances/one-off", form)
    assert made.status_code == 303, made.text
    run_url = made.headers["location"].split("?")[0]
    run_id = int(run_url.rsplit("/", 1)[1])
    # Tasks run in process here: the run is prepared by the time the page is shown; the poll fragment links to it.
    shown = await client.get(made.headers["location"])
    assert shown.status_code == 200 and "节日慰问" in shown.text and f"{YEAR}年春节慰问" in shown.text
    assert "已开始编制" in shown.text and 'id="run-count">2<' in shown.text
    progress = await client.get(f"{run_url}/progress")
    assert progress.status_code == 200 and f'id="progress-done-{run_id}"' in progress.text
    assert "hx-trigger" not in progress.text
    listing = (await client.get("/admin/allowances")).text
    assert f'id="run-{run_id}"' in listing and f"节日慰问 · {YEAR}年春节慰问" in listing
    # The same festival again: 409 in place, nothing written.
    twice = await post(client, "/admin/allowances/one-off", form)
    assert twice.status_code == 409 and "已有名为" in twice.text and await runs_count(db) == 1

    # The district signs it off; the bank file; the officer records it paid.
    await console_login(client, "admin")
    assert (await post(client, f"{run_url}/sign-off", {"note": "同意"})).status_code == 303
    assert (await client.get(f"{run_url}/bank-file")).status_code == 200
    await console_login(client, "procurement")
    assert (await post(client, f"{run_url}/pay", {})).status_code == 303

    # The quarter report: the festival by kind, CSV and XLSX the API's bytes.
    for role in ("admin", "auditor", "procurement"):
        await console_login(client, role)
        q = await client.get(f"/admin/allowances/quarter?year={YEAR}&quarter=1")
        assert q.status_code == 200, (role, q.text)
        assert 'id="quarter-kind-festival"' in q.text and "节日慰问金" in q.text and "1,300.00" in q.text
    for fmt in ("csv", "xlsx"):
        mine = await client.get(f"/admin/allowances/quarter?year={YEAR}&quarter=1&format={fmt}")
        theirs = await client.get(
            f"/api/v1/reports/allowances?year={YEAR}&quarter=1&format={fmt}", headers=await auth("procurement")
        )
        assert mine.status_code == theirs.status_code == 200
        assert same_download(mine.content, theirs.content)
        assert mine.headers["content-type"] == theirs.headers["content-type"]
    assert (await client.get("/admin/allowances/quarter?year=1999&quarter=5")).status_code == 400


async def test_a_special_run_lists_the_chosen_children_and_refuses_bad_rows(
    client, auth, db, world, settings, frozen_clock
) -> None:
    import datetime as dt

    frozen_clock(dt.datetime(YEAR, 3, 1, 4, 0, tzinfo=dt.UTC))
    budget, ids = await _festival_setup(client, auth, db, world, settings)
    await console_login(client, "procurement")
    base = {"kind": "special", "title": "临时救助", "pay_date": f"{YEAR}-03-05", "line_id": _line(budget)}
    for bad, message in (
        ({**base}, "请至少选择一名补助对象"),
        ({**base, "child_0": str(ids[0]), "amount_0": "300"}, "第 1 行请填写补助事由"),
        ({**base, "child_0": str(ids[0]), "amount_0": "", "reason_0": "医疗"}, "第 1 行请填写金额"),
        ({**base, "amount_1": "300", "reason_1": "医疗"}, "第 2 行请选择补助对象"),
        (
            {
                **base,
                "child_0": str(ids[0]),
                "amount_0": "1",
                "reason_0": "a",
                "child_1": str(ids[0]),
                "amount_1": "2",
                "reason_1": "b",
            },
            "重复列入",
        ),
        ({**base, "child_0": "999999", "amount_0": "300", "reason_0": "医疗"}, "没有有效的生活补贴认定"),
    ):
        r = await post(client, "/admin/allowances/one-off", bad)
        assert r.status_code == 422, (bad, r.status_code, r.text[-500:])
        assert message in r.text, message
    assert await runs_count(db) == 0
    ok = await post(
        client,
        "/admin/allowances/one-off",
        {**base, "child_0": str(ids[1]), "amount_0": "1,200.50", "reason_0": "住院自付"},
    )
    assert ok.status_code == 303, ok.text
    shown = (await client.get(ok.headers["location"])).text
    assert "临时/专项补助" in shown and "住院自付" in shown and "乙" in shown and "1,200.50" in shown


async def test_one_off_and_quarter_pages_are_for_the_allowance_roles(client, auth, db, world, settings) -> None:
    await console_login(client, "auditor")
    page = await client.get("/admin/allowances")
    assert page.status_code == 200 and 'id="oneoff"' not in page.text
    assert (await post(client, "/admin/allowances/one-off", {"kind": "festival"})).status_code == 403
    await console_login(client, "director")
    assert (await client.get("/admin/allowances/quarter")).status_code == 403


async def test_a_month_prepared_in_the_background_shows_its_progress_and_outcome(
    client, auth, db, world, settings
) -> None:
    await make_budget(client, await auth("procurement"), year=YEAR)
    ids = await add_children(db, world, [("甲", ["orphan"], "active", KID)])
    await grant(db, settings, ids)
    await console_login(client, "procurement")
    bad = await post(client, "/admin/allowances/runs", {"month": "1999-01", "background": "1"})
    assert bad.status_code == 409 and "尚无预算" in bad.text and await runs_count(db) == 0
    made = await post(client, "/admin/allowances/runs", {"month": MONTH, "background": "1"})
    assert made.status_code == 303 and made.headers["location"].endswith("?done=queued")
    run_url = made.headers["location"].split("?")[0]
    run_id = int(run_url.rsplit("/", 1)[1])
    shown = (await client.get(made.headers["location"])).text
    assert f'id="progress-done-{run_id}"' in shown and "月度发放" in shown and "已开始编制" in shown
    # The month again in the background: nobody left, so that run ends 编制失败 with the reason, nothing committed.
    again = await post(client, "/admin/allowances/runs", {"month": MONTH, "background": "1"})
    other = int(again.headers["location"].split("?")[0].rsplit("/", 1)[1])
    fragment = (await client.get(f"/admin/allowances/runs/{other}/progress")).text
    assert "编制失败" in fragment and "没有新增可发放的对象" in fragment and "hx-trigger" not in fragment
    listing = (await client.get("/admin/allowances")).text
    assert f'id="progress-{other}"' in listing and "编制失败" in listing
    async with db.session(write=False) as s:
        run = await s.get(AllowanceRun, other)
        assert run is not None and run.status == "failed" and run.paid_count == 0
