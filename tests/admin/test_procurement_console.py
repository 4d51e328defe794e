"""The procurement officer's console forms: budget adjustments, a new procurement with the rules answer, bids,
award and the publicity countdown, signing, OCDS, and a contract's evidence files, acceptance, payments,
amendments and evaluation. Each form refuses bad input in place (its own message area) and changes nothing."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from sqlalchemy import func, select

from marketplace import clock
from marketplace.procurement.models import (
    Bid,
    BudgetAdjustment,
    Contract,
    ContractAmendment,
    Milestone,
    Payment,
    Procurement,
)
from tests.admin.console import console_login, htmx
from tests.procurement.helpers import line_id, make_budget, signed_contract

PDF = b"%PDF-1.4\n% acceptance record\n%%EOF\n"


async def count(db: Any, model: Any) -> int:
    async with db.session() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


def refused_in_place(r: Any, target: str, *words: str) -> None:
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert r.headers["hx-retarget"] == target, r.headers
    for word in words:
        assert word in r.text, (word, r.text)


async def budget(client: Any, auth: Any) -> dict[str, Any]:
    return await make_budget(client, await auth("procurement"))


async def test_budget_page_and_adjustment_with_document_number(client, auth, world, db) -> None:
    b = await budget(client, auth)
    training, activities = line_id(b, "training"), line_id(b, "activities")
    url = f"/admin/procurement/budgets/{b['id']}/adjustments"
    csrf = await console_login(client, "procurement")
    page = await client.get(f"/admin/procurement/budgets/{b['id']}")
    assert page.status_code == 200 and "科目间调剂" in page.text and "审批文号" in page.text
    assert "¥50,000.00" in page.text  # training's appropriation
    good = {
        "from_line_id": str(training),
        "to_line_id": str(activities),
        "amount": "12,000.50",
        "document_no": "福民财〔2026〕12号",
    }
    bad = [
        ({**good, "document_no": " "}, "审批文号"),
        ({**good, "amount": "abc"}, "金额"),
        ({**good, "amount": "1.234"}, "两位小数"),
        ({**good, "amount": "-5"}, "负数"),
        ({**good, "amount": "1e999"}, "金额"),
        ({**good, "amount": "NaN"}, "金额"),
        ({**good, "to_line_id": str(training)}, "不能相同"),
        ({**good, "amount": "60000"}, "可用额度不足"),
        ({**good, "from_line_id": ""}, "调出科目"),
    ]
    for form, word in bad:
        r = await client.post(url, data=form, headers=htmx(csrf))
        refused_in_place(r, "#adjust-errors", word)
    assert await count(db, BudgetAdjustment) == 0
    r = await client.post(url, data=good, headers=htmx(csrf))
    assert r.status_code == 200 and r.headers["hx-redirect"].endswith("?done=adjusted")
    page = await client.get(r.headers["hx-redirect"])
    assert "调剂已登记" in page.text and "福民财〔2026〕12号" in page.text and "¥12,000.50" in page.text
    async with db.session() as s:
        row = await s.scalar(select(BudgetAdjustment))
        assert row is not None and row.amount_fen == 1_200_050 and row.document_no == "福民财〔2026〕12号"
    # Each line's trail shows the adjustment with its document number.
    page = await client.get(f"/admin/procurement/budgets/{b['id']}/lines/{training}")
    assert page.status_code == 200 and "调出" in page.text and "福民财〔2026〕12号" in page.text
    assert (await client.get(f"/admin/procurement/budgets/{b['id']}/lines/999999")).status_code == 404
    # Readers see the budget, not the form; they cannot adjust.
    csrf = await console_login(client, "auditor")
    page = await client.get(f"/admin/procurement/budgets/{b['id']}")
    assert page.status_code == 200 and "登记调剂" not in page.text
    r = await client.post(url, data=good, headers=htmx(csrf))
    assert r.status_code == 403
    assert await count(db, BudgetAdjustment) == 1


async def test_rules_answer_as_typed_and_create(client, auth, world, db) -> None:
    b = await budget(client, auth)
    line = line_id(b, "purchase_services")
    csrf = await console_login(client, "procurement")
    page = await client.get(f"/admin/procurement/new?line={line}")
    assert page.status_code == 200 and f'<option value="{line}" selected>' in page.text
    base = {
        "budget_line_id": str(line),
        "method": "competitive_consultation",
        "service_categories": "psych_counselling",
    }
    # Below every threshold: consultation is allowed but needs its reason; the publicity end date is shown.
    r = await client.post("/admin/procurement/new/rules", data={**base, "estimated": "300000"}, headers=htmx(csrf))
    assert r.status_code == 200 and 'data-required-method=""' in r.text
    assert 'data-finding="justification_required"' in r.text and 'data-may-open="no"' in r.text
    assert "data-publicity-end" in r.text and "经区民政局审批" in r.text
    # At the open-tender threshold the answer names 公开招标.
    r = await client.post("/admin/procurement/new/rules", data={**base, "estimated": "4,000,000"}, headers=htmx(csrf))
    assert 'data-required-method="open_tender"' in r.text and 'data-finding="open_tender_required"' in r.text
    r = await client.post(
        "/admin/procurement/new/rules",
        data={**base, "method": "open_tender", "estimated": "300000"},
        headers=htmx(csrf),
    )
    assert 'data-may-open="yes"' in r.text and "新建即占用" in r.text
    # More than the line holds.
    r = await client.post(
        "/admin/procurement/new/rules",
        data={**base, "method": "open_tender", "estimated": "2000000"},
        headers=htmx(csrf),
    )
    assert "不足以容纳本项目" in r.text and 'data-may-open="no"' in r.text
    r = await client.post("/admin/procurement/new/rules", data={**base, "estimated": "x"}, headers=htmx(csrf))
    assert r.status_code == 200 and "金额" in r.text
    # Creating: the API's messages, in place; nothing created.
    form = {**base, "title": "困境儿童心理服务", "estimated": "300000"}
    for bad, word in [
        (form, "须说明理由"),
        ({**form, "method": "open_tender", "estimated": "2000000"}, "可用额度"),
        ({**form, "method": "open_tender", "title": ""}, "项目名称"),
        ({**form, "method": "open_tender", "estimated": ""}, "采购预算"),
        ({**form, "method": "teleport"}, "未知采购方式"),
    ]:
        r = await client.post("/admin/procurement/new", data=bad, headers=htmx(csrf))
        refused_in_place(r, "#create-errors", word)
    r = await client.post(
        "/admin/procurement/new", data={**form, "method": "open_tender", "service_categories": ""}, headers=htmx(csrf)
    )
    refused_in_place(r, "#create-errors", "服务类别")
    assert await count(db, Procurement) == 0
    r = await client.post("/admin/procurement/new", data={**form, "method": "open_tender"}, headers=htmx(csrf))
    assert r.status_code == 200, r.text
    page = await client.get(r.headers["hx-redirect"])
    assert "采购项目已建立" in page.text and "公开招标" in page.text and "¥300,000.00" in page.text
    assert "awaiting-approval" not in page.text
    # A consultation with its reason opens too, and waits for the district's approval of the method.
    r = await client.post(
        "/admin/procurement/new", data={**form, "justification": "专业性强，供应商有限"}, headers=htmx(csrf)
    )
    assert r.status_code == 200, r.text
    page = await client.get(r.headers["hx-redirect"])
    assert "awaiting-approval" in page.text and "竞争性磋商" in page.text
    # Others may not open one.
    for user in ("admin", "auditor"):
        csrf = await console_login(client, user)
        assert (await client.get("/admin/procurement/new")).status_code == 403
        r = await client.post("/admin/procurement/new", data={**form, "method": "open_tender"}, headers=htmx(csrf))
        assert r.status_code == 403
    assert await count(db, Procurement) == 2


async def open_tender(client: Any, csrf: str, line: int, amount: str = "300000") -> int:
    r = await client.post(
        "/admin/procurement/new",
        data={
            "budget_line_id": str(line),
            "method": "open_tender",
            "service_categories": "psych_counselling",
            "title": "困境儿童心理服务",
            "estimated": amount,
        },
        headers=htmx(csrf),
    )
    assert r.status_code == 200, r.text
    return int(r.headers["hx-redirect"].split("/")[-1].split("?")[0])


async def test_bids_award_countdown_signing_and_ocds(client, auth, world, db, frozen_clock) -> None:
    b = await budget(client, auth)
    line = line_id(b, "purchase_services")
    csrf = await console_login(client, "procurement")
    pid = await open_tender(client, csrf, line)
    url = f"/admin/procurement/{pid}"
    page = await client.get(url)
    assert "登记响应文件" in page.text and "下载 OCDS" in page.text
    # Bad bids change nothing.
    first, second, third = world.suppliers
    for bad, word in [
        ({"organization_id": "", "price": "280000"}, "供应商"),
        ({"organization_id": str(first), "price": "zero"}, "报价"),
        ({"organization_id": str(first), "price": "280000", "technical_score": "120"}, "技术得分"),
        ({"organization_id": str(world.orgs[2]), "price": "280000"}, "尚未审核入库"),
    ]:
        refused_in_place(await client.post(f"{url}/bids", data=bad, headers=htmx(csrf)), "#bid-errors", word)
    assert await count(db, Bid) == 0
    # Awarding with two bids is refused for want of suppliers.
    for org, price, tech in ((first, "280000", "92"), (second, "290000", "80")):
        r = await client.post(
            f"{url}/bids",
            data={"organization_id": str(org), "price": price, "technical_score": tech},
            headers=htmx(csrf),
        )
        assert r.status_code == 200, r.text
    refused_in_place(
        await client.post(f"{url}/bids", data={"organization_id": str(first), "price": "1"}, headers=htmx(csrf)),
        "#bid-errors",
        "已递交",
    )
    refused_in_place(await client.post(f"{url}/award", data={}, headers=htmx(csrf)), "#award-errors", "至少 3 家")
    r = await client.post(
        f"{url}/bids",
        data={"organization_id": str(third), "price": "295000", "technical_score": "70"},
        headers=htmx(csrf),
    )
    assert r.status_code == 200
    page = await client.get(url)
    assert "综合得分" in page.text and "确定并公示" in page.text
    refused_in_place(
        await client.post(f"{url}/award", data={"awarded_on": "tomorrow"}, headers=htmx(csrf)),
        "#award-errors",
        "确定日期",
    )
    today = clock.today()
    r = await client.post(
        f"{url}/award", data={"awarded_on": today.isoformat(), "announced_on": today.isoformat()}, headers=htmx(csrf)
    )
    assert r.status_code == 200, r.text
    page = await client.get(url)
    async with db.session() as s:
        p = await s.get(Procurement, pid)
        assert p is not None and p.status == "awarded" and p.publicity_ends_on is not None
        ends = p.publicity_ends_on
    assert f'data-countdown="{(ends - today).days}"' in page.text and "公示期未满" in page.text
    # Signing inside the publicity period is the service's refusal, in place.
    sign = {
        "amount": "280000",
        "starts_on": (ends + dt.timedelta(days=1)).isoformat(),
        "ends_on": (ends + dt.timedelta(days=300)).isoformat(),
        "m0_name": "首期服务交付",
        "m0_due_on": (ends + dt.timedelta(days=30)).isoformat(),
        "m0_amount": "112000",
        "m0_kind": "delivery",
        "m1_name": "末期验收",
        "m1_due_on": (ends + dt.timedelta(days=300)).isoformat(),
        "m1_amount": "168000",
        "m1_kind": "payment",
    }
    refused_in_place(await client.post(f"{url}/contract", data=sign, headers=htmx(csrf)), "#sign-errors", "公示期满后")
    # The OCDS record package through the console session.
    r = await client.get(f"{url}/ocds")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    assert json.loads(r.content)["records"][0]["compiledRelease"]["tender"]["id"]
    # The publicity over (the app's clock moved on), the contract is signed.
    frozen_clock(dt.datetime.combine(ends + dt.timedelta(days=1), dt.time(4, 0), tzinfo=dt.UTC))
    csrf = await console_login(client, "procurement")  # the console session has expired meanwhile
    page = await client.get(url)
    assert 'data-countdown="over"' in page.text and "签订合同" in page.text
    for bad, word in [
        ({**sign, "amount": "300000"}, "中标/成交价"),
        ({**sign, "m0_amount": "200000"}, "超过合同金额"),
        ({**sign, "m0_name": "", "m1_name": ""}, "履约节点"),
        ({**sign, "m0_due_on": ""}, "日期"),
        ({**sign, "ends_on": "soon"}, "结束日期"),
    ]:
        refused_in_place(await client.post(f"{url}/contract", data=bad, headers=htmx(csrf)), "#sign-errors", word)
    assert await count(db, Contract) == 0
    r = await client.post(f"{url}/contract", data=sign, headers=htmx(csrf))
    assert r.status_code == 200, r.text
    assert "/admin/procurement/contracts/" in r.headers["hx-redirect"]
    page = await client.get(r.headers["hx-redirect"])
    assert "合同已签订" in page.text and "首期服务交付" in page.text and "¥280,000.00" in page.text
    # Readers see the procurement and download its OCDS; they get no forms.
    await console_login(client, "auditor")
    page = await client.get(url)
    assert page.status_code == 200 and "查看合同" in page.text and "<form" not in page.text.split("<main")[-1]
    assert (await client.get(f"{url}/ocds")).status_code == 200
    await console_login(client, "fund")
    assert (await client.get(f"{url}/ocds")).status_code == 403


async def test_fail_and_cancel(client, auth, world, db) -> None:
    b = await budget(client, auth)
    line = line_id(b, "purchase_services")
    csrf = await console_login(client, "procurement")
    pid = await open_tender(client, csrf, line)
    url = f"/admin/procurement/{pid}/end"
    refused_in_place(
        await client.post(url, data={"how": "fail", "reason": ""}, headers=htmx(csrf)), "#end-errors", "原因"
    )
    refused_in_place(
        await client.post(url, data={"how": "vanish", "reason": "x"}, headers=htmx(csrf)), "#end-errors", "采购失败"
    )
    r = await client.post(url, data={"how": "fail", "reason": "投标人不足3家，废标"}, headers=htmx(csrf))
    assert r.status_code == 200 and r.headers["hx-redirect"].endswith("done=failed")
    page = await client.get(r.headers["hx-redirect"])
    assert "占用额度已释放" in page.text and "投标人不足3家" in page.text
    refused_in_place(
        await client.post(url, data={"how": "cancel", "reason": "再次"}, headers=htmx(csrf)), "#end-errors"
    )


async def contract(client: Any, auth: Any, world: Any) -> dict[str, Any]:
    b = await budget(client, auth)
    return await signed_contract(client, auth, line_id(b, "purchase_services"), world.orgs[0], 1_000_000)


async def milestone(db: Any, mid: int) -> Milestone:
    async with db.session() as s:
        found = await s.get(Milestone, mid)
        assert found is not None
        return found


async def test_evidence_upload_accept_pay(client, auth, world, db, settings) -> None:
    c = await contract(client, auth, world)
    cid, mid = c["id"], c["milestones"][0]["id"]
    base = f"/admin/procurement/contracts/{cid}"
    csrf = await console_login(client, "procurement")
    page = await client.get(base)
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.text and "上传证明材料" in page.text
    up = f"{base}/milestones/{mid}/evidence"
    for name, raw, word in [
        ("notes.txt", b"hello", "只接受"),
        ("fake.pdf", b"GIF89a", "不符"),
        ("empty.pdf", b"", "为空"),
    ]:
        r = await client.post(up, files={"file": (name, raw, "application/octet-stream")}, headers=htmx(csrf))
        refused_in_place(r, f"#evidence-errors-{mid}", word)
    refused_in_place(await client.post(up, data={"x": "1"}, headers=htmx(csrf)), f"#evidence-errors-{mid}", "请选择")
    assert (await milestone(db, mid)).evidence == []
    r = await client.post(up, files={"file": ("服务台账.pdf", PDF, "application/pdf")}, headers=htmx(csrf))
    assert r.status_code == 200, r.text
    sha = hashlib.sha256(PDF).hexdigest()
    page = await client.get(f"{base}?done=evidence")
    assert "证明材料已上传" in page.text and sha[:12] in page.text
    r = await client.get(f"{base}/milestones/{mid}/evidence/{sha}")
    assert r.status_code == 200 and r.content == PDF and r.headers["x-content-sha256"] == sha
    # Paying before acceptance is refused in place.
    pay = {"milestone_id": str(mid), "amount": "4000"}
    refused_in_place(await client.post(f"{base}/payments", data=pay, headers=htmx(csrf)), "#pay-errors", "尚未验收")
    # Accepting with the uploaded file (no other document named).
    acc = f"{base}/milestones/{mid}/accept"
    refused_in_place(
        await client.post(acc, data={"back": "contract", "accepted_on": "2000-01-01"}, headers=htmx(csrf)),
        f"#accept-errors-{mid}",
        "验收日期",
    )
    assert (await milestone(db, mid)).status == "pending"
    r = await client.post(acc, data={"back": "contract", "note": "资料齐全"}, headers=htmx(csrf))
    assert r.status_code == 200 and "done=accepted" in r.headers["hx-redirect"], r.text
    m = await milestone(db, mid)
    assert m.status == "accepted" and [e.get("sha256") for e in m.evidence] == [sha]
    # Another milestone without any evidence cannot be accepted.
    other = c["milestones"][1]["id"]
    refused_in_place(
        await client.post(f"{base}/milestones/{other}/accept", data={"back": "contract"}, headers=htmx(csrf)),
        f"#accept-errors-{other}",
        "证明材料",
    )
    # Payments: bad input in place, then the accepted 40%.
    for bad, word in [
        ({**pay, "amount": "4000.01"}, "超出"),
        ({**pay, "amount": ""}, "支付金额"),
        ({**pay, "milestone_id": str(other)}, "尚未验收"),
        ({**pay, "paid_on": "2999-01-01"}, "晚于今天"),
    ]:
        refused_in_place(await client.post(f"{base}/payments", data=bad, headers=htmx(csrf)), "#pay-errors", word)
    assert await count(db, Payment) == 0
    r = await client.post(f"{base}/payments", data=pay, headers=htmx(csrf))
    assert r.status_code == 200, r.text
    page = await client.get(f"{base}?done=paid")
    assert "支付已登记" in page.text and 'data-paid="400000"' in page.text
    r = await client.get(f"/api/v1/contracts/{cid}", headers=await auth("procurement"))
    assert r.json()["paid_fen"] == 400_000


async def test_amendments_and_evaluation(client, auth, world, db) -> None:
    c = await contract(client, auth, world)
    base = f"/admin/procurement/contracts/{c['id']}"
    csrf = await console_login(client, "procurement")
    for bad, word in [
        ({"delta": "1000.01", "reason": "追加服务"}, "10%"),
        ({"delta": "500", "reason": ""}, "理由"),
        ({"delta": "0", "reason": "x"}, "不能为 0"),
        ({"delta": "ten", "reason": "x"}, "金额"),
    ]:
        refused_in_place(await client.post(f"{base}/amendments", data=bad, headers=htmx(csrf)), "#amend-errors", word)
    assert await count(db, ContractAmendment) == 0
    r = await client.post(
        f"{base}/amendments",
        data={"delta": "1000", "reason": "追加服务场次", "document_no": "福民〔2026〕3号"},
        headers=htmx(csrf),
    )
    assert r.status_code == 200, r.text
    page = await client.get(f"{base}?done=amended")
    assert "合同金额已变更" in page.text and "¥11,000.00" in page.text
    for bad, word in [({"score": "101", "comments": "好"}, "评分"), ({"score": "90", "comments": ""}, "评价意见")]:
        refused_in_place(
            await client.post(f"{base}/evaluation", data=bad, headers=htmx(csrf)), "#evaluate-errors", word
        )
    # Before the end with milestones open: the service refuses.
    refused_in_place(
        await client.post(f"{base}/evaluation", data={"score": "90", "comments": "良好"}, headers=htmx(csrf)),
        "#evaluate-errors",
        "暂不能进行绩效评价",
    )
    async with db.session() as s:
        found = await s.get(Contract, c["id"])
        assert found is not None and found.status == "active" and found.evaluation_score is None
    # Readers may not change a contract.
    csrf = await console_login(client, "admin")
    page = await client.get(base)
    assert page.status_code == 200 and "登记变更" not in page.text
    r = await client.post(f"{base}/amendments", data={"delta": "100", "reason": "x"}, headers=htmx(csrf))
    assert r.status_code == 403
    assert await count(db, ContractAmendment) == 1


async def test_evaluation_after_the_term_completes_the_contract(client, auth, world, db, frozen_clock) -> None:
    c = await contract(client, auth, world)
    ends = dt.date.fromisoformat(c["ends_on"])
    frozen_clock(dt.datetime.combine(ends + dt.timedelta(days=2), dt.time(4, 0), tzinfo=dt.UTC))
    csrf = await console_login(client, "procurement")
    base = f"/admin/procurement/contracts/{c['id']}"
    r = await client.post(
        f"{base}/evaluation", data={"score": "88", "comments": "服务到位，台账规范"}, headers=htmx(csrf)
    )
    assert r.status_code == 200, r.text
    page = await client.get(r.headers["hx-redirect"])
    assert "绩效评价已登记" in page.text and "88 分" in page.text and "已完成" in page.text
    assert "提交评价" not in page.text and "登记变更" not in page.text
    async with db.session() as s:
        found = await s.get(Contract, c["id"])
        assert found is not None and found.status == "completed" and found.evaluation_score == 88


async def test_overview_lists_procurements_and_links_the_pages(client, auth, world) -> None:
    b = await budget(client, auth)
    line = line_id(b, "purchase_services")
    csrf = await console_login(client, "procurement")
    pid = await open_tender(client, csrf, line)
    page = await client.get("/admin/procurement")
    assert "新建采购项目" in page.text and f'href="/admin/procurement/{pid}"' in page.text
    assert (
        f'href="/admin/procurement/budgets/{b["id"]}"' in page.text
        and f"/admin/procurement/new?line={line}" in page.text
    )
    await console_login(client, "auditor")
    page = await client.get("/admin/procurement")
    assert f'href="/admin/procurement/{pid}"' in page.text and "新建采购项目" not in page.text
    # The fund manager reads budgets only: no procurements list.
    await console_login(client, "fund")
    page = await client.get("/admin/procurement")
    assert page.status_code == 200 and "采购项目" not in page.text.split("<main")[-1].replace("预算与采购", "")
    assert (await client.get(f"/admin/procurement/{pid}")).status_code == 403
    assert (await client.get(f"/admin/procurement/budgets/{b['id']}")).status_code == 200
