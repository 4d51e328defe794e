"""The console's last procurement gaps: the district bureau approves a method other than open tendering on the
procurement page, and the officer terminates a contract on its page. Both call the services the API uses; bad
input is refused in the form's own message area and changes nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from marketplace import clock
from marketplace.procurement.models import Commitment, Contract, ProcurementApproval
from tests.admin.console import console_login, htmx
from tests.admin.test_procurement_console import refused_in_place
from tests.procurement.helpers import TODAY, accept, bid, line_id, make_budget, open_procurement, signed_contract


async def _committed(client: Any, auth: Any, budget_id: int, line: int) -> int:
    lines = (await client.get(f"/api/v1/budgets/{budget_id}", headers=await auth("procurement"))).json()["lines"]
    return int(next(x for x in lines if x["id"] == line)["committed_fen"])


async def _rows(db: Any, model: Any) -> int:
    async with db.session() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_terminating_a_contract_in_the_console(client, auth, world, db) -> None:
    budget = await make_budget(client, await auth("procurement"))
    line = line_id(budget, "purchase_services")
    signed = TODAY - dt.timedelta(days=3)
    c = await signed_contract(client, auth, line, world.orgs[0], 1_000_000, signed_on=signed.isoformat())
    assert (await accept(client, auth, c, 0)).status_code == 200  # ¥4,000.00 accepted and owed
    base = f"/admin/procurement/contracts/{c['id']}"
    csrf = await console_login(client, "procurement")
    page = await client.get(base)
    assert 'id="terminate-form"' in page.text and "解除理由" in page.text
    # What goes back to the line is said before the officer confirms: ¥10,000 − ¥4,000 owed.
    assert 'id="release-amount">¥6,000.00<' in page.text
    commitments = await _rows(db, Commitment)
    tomorrow = (clock.today() + dt.timedelta(days=1)).isoformat()
    for bad, word in [
        ({"reason": "", "confirm": "yes"}, "请填写解除合同的理由"),
        ({"reason": "机构停止运营"}, "请勾选确认"),
        ({"reason": "机构停止运营", "confirm": "yes", "terminated_on": tomorrow}, "解除日期不能晚于今天"),
        ({"reason": "机构停止运营", "confirm": "yes", "terminated_on": "2020-01-01"}, "不能早于合同签订日期"),
        ({"reason": "机构停止运营", "confirm": "yes", "terminated_on": "昨天"}, "解除日期格式"),
        ({"reason": "x" * 501, "confirm": "yes"}, "理由"),
    ]:
        refused_in_place(
            await client.post(f"{base}/terminate", data=bad, headers=htmx(csrf)), "#terminate-errors", word
        )
    assert await _rows(db, Commitment) == commitments
    assert await _committed(client, auth, budget["id"], line) == 1_000_000
    async with db.session() as s:
        found = await s.get(Contract, c["id"])
        assert found is not None and found.status == "active" and found.terminated_on is None

    # A reader sees the contract but may not terminate it.
    admin_csrf = await console_login(client, "admin")
    assert 'id="terminate-form"' not in (await client.get(base)).text
    r = await client.post(f"{base}/terminate", data={"reason": "x", "confirm": "yes"}, headers=htmx(admin_csrf))
    assert r.status_code == 403

    csrf = await console_login(client, "procurement")
    r = await client.post(
        f"{base}/terminate",
        data={"reason": "机构停止运营", "confirm": "yes", "terminated_on": signed.isoformat()},
        headers=htmx(csrf),
    )
    assert r.status_code == 200, r.text
    assert r.headers["hx-redirect"] == f"{base}?done=terminated"
    page = await client.get(r.headers["hx-redirect"])
    assert "合同已解除" in page.text and 'id="contract-status">已解除<' in page.text
    assert "机构停止运营" in page.text and 'id="terminate-form"' not in page.text
    assert 'id="amend-form"' not in page.text and 'id="evaluate-form"' not in page.text
    assert await _committed(client, auth, budget["id"], line) == 400_000
    async with db.session() as s:
        found = await s.get(Contract, c["id"])
        assert found is not None and found.terminated_on == signed and found.terminated_by is not None
    # Again (a second tab): refused in place with the state's message, nothing released twice.
    refused_in_place(
        await client.post(f"{base}/terminate", data={"reason": "再次", "confirm": "yes"}, headers=htmx(csrf)),
        "#terminate-errors",
        "已解除状态下不能执行“解除合同”",
    )
    assert await _committed(client, auth, budget["id"], line) == 400_000
    # A plain form post (no htmx) gets the refusal as an error page, still changing nothing.
    r = await client.post(f"{base}/terminate", data={"reason": "再次", "confirm": "yes", "_csrf_token": csrf})
    assert r.status_code == 409
    assert await _committed(client, auth, budget["id"], line) == 400_000


async def test_approving_a_non_open_method_in_the_console(client, auth, world, db) -> None:
    budget = await make_budget(client, await auth("procurement"))
    line = line_id(budget, "purchase_services")
    p = await open_procurement(
        client, auth, line, estimated_fen=2_000_000, method="competitive_consultation", approved_on=None
    )
    pid = p["id"]
    for org in world.orgs[:2]:
        assert (await bid(client, auth, pid, org, 2_000_000)).status_code == 201
    url = f"/admin/procurement/{pid}"

    # The officer sees why the award must wait, gets no approval form, and the award is refused.
    csrf = await console_login(client, "procurement")
    page = await client.get(url)
    assert 'id="awaiting-approval"' in page.text and 'id="approve-form"' not in page.text
    refused_in_place(
        await client.post(f"{url}/award", data={}, headers=htmx(csrf)), "#award-errors", "尚未取得区民政局审批"
    )
    r = await client.post(f"{url}/approve", data={"document_no": "福民采审〔2026〕9号"}, headers=htmx(csrf))
    assert r.status_code == 403
    assert await _rows(db, ProcurementApproval) == 0

    # The district bureau approves it.
    csrf = await console_login(client, "admin")
    page = await client.get(url)
    assert 'id="approve-form"' in page.text and "审批文号" in page.text and "竞争性磋商" in page.text
    tomorrow = (clock.today() + dt.timedelta(days=1)).isoformat()
    for bad, word in [
        ({"document_no": ""}, "请填写审批文号"),
        ({"document_no": "福民采审〔2026〕9号", "approved_on": tomorrow}, "审批日期不能晚于今天"),
        ({"document_no": "福民采审〔2026〕9号", "approved_on": "2026-02-30"}, "审批日期格式"),
        ({"document_no": "x" * 101}, "审批文号"),
    ]:
        refused_in_place(await client.post(f"{url}/approve", data=bad, headers=htmx(csrf)), "#approve-errors", word)
    assert await _rows(db, ProcurementApproval) == 0
    r = await client.post(
        f"{url}/approve",
        data={"document_no": "福民采审〔2026〕9号", "approved_on": TODAY.isoformat(), "note": "同意采用竞争性磋商"},
        headers=htmx(csrf),
    )
    assert r.status_code == 200, r.text
    page = await client.get(r.headers["hx-redirect"])
    assert "采购方式审批已登记" in page.text and "福民采审〔2026〕9号" in page.text
    assert 'id="approve-form"' not in page.text and 'id="awaiting-approval"' not in page.text
    api = (await client.get(f"/api/v1/procurements/{pid}", headers=await auth("procurement"))).json()
    assert api["held_fen"] == 2_000_000 and api["approvals"][0]["approved_on"] == TODAY.isoformat()

    # Now the officer may award.
    csrf = await console_login(client, "procurement")
    r = await client.post(f"{url}/award", data={}, headers=htmx(csrf))
    assert r.status_code == 200, r.text

    # An open tender needs no approval: refused with the reason.
    open_p = await open_procurement(client, auth, line, estimated_fen=3_000_000)
    csrf = await console_login(client, "admin")
    assert 'id="approve-form"' not in (await client.get(f"/admin/procurement/{open_p['id']}")).text
    refused_in_place(
        await client.post(f"/admin/procurement/{open_p['id']}/approve", data={"document_no": "A1"}, headers=htmx(csrf)),
        "#approve-errors",
        "公开招标无需采购方式审批",
    )
    assert await _rows(db, ProcurementApproval) == 1
