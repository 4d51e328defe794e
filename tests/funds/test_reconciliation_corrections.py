"""Resolving a reconciliation difference posts the balancing entry its kind calls for, until the books equal the bank."""

from __future__ import annotations

import base64
import datetime as dt

from sqlalchemy import select

from marketplace import clock
from marketplace.audit.models import AuditEntry
from marketplace.funds import ledger
from marketplace.funds.models import JournalEntry
from tests.conftest import Auth, assert_problem
from tests.funds.support import offline_gift


def _gbk(text: str) -> str:
    return base64.b64encode(text.encode("gbk")).decode()


async def _cash(client, fm, fund_id: int) -> int:
    r = await client.get(f"/api/v1/funds/{fund_id}", headers=fm)
    assert r.status_code == 200, r.text
    return int(r.json()["cash_fen"])


async def test_books_reach_the_bank_only_through_posted_corrections(client, auth: Auth, fund_id: int, db) -> None:
    fm = await auth("fund")
    day = clock.today() - dt.timedelta(days=3)
    ids = {
        ref: await offline_gift(client, fm, fund_id, ref, fen, day)
        for ref, fen in (("B-1", 10_000), ("B-2", 20_000), ("B-3", 30_000), ("B-4", 40_000))
    }
    assert await _cash(client, fm, fund_id) == 100_000
    # The bank, in GBK with income/expense columns: B-2 arrived 10 yuan short (the bank kept a fee), a separate
    # 10-yuan fee line, a gift we never recorded, a refund of 150 yuan of B-4, and B-3 never arrived.
    statement = (
        "交易日期,收入,支出,对方户名,摘要,流水号\n"
        f"{day},100.00,,单位B-1,捐赠,B-1\n"
        f"{day},190.00,,单位B-2,捐赠,B-2\n"
        f"{day},,10.00,,账户管理费,F-1\n"
        f"{day},88.00,,王女士,捐赠,X-9\n"
        f"{day},400.00,,单位B-4,捐赠,B-4\n"
        f"{day},,150.00,单位B-4,退款,R-4\n"
    )
    payload = {
        "fund_id": fund_id,
        "source": "bank",
        "since": day.isoformat(),
        "until": clock.today().isoformat(),
        "file_base64": _gbk(statement),
    }
    r = await client.post("/api/v1/reconciliations", json=payload, headers=fm)
    assert r.status_code == 201, r.text
    recon = r.json()
    by_ref = {d["external_id"]: d for d in recon["differences"]}
    assert {(d["kind"], ref) for ref, d in by_ref.items()} == {
        ("amount_differs", "B-2"),
        ("missing_there", "B-3"),
        ("missing_here", "F-1"),
        ("missing_here", "R-4"),
        ("missing_here", "X-9"),
    }
    base = f"/api/v1/reconciliations/{recon['id']}/differences"

    # What a bank-fee resolution will post, before anything is posted.
    fee = by_ref["F-1"]["n"]
    r = await client.post(f"{base}/{fee}/preview", json={"kind": "bank_fee"}, headers=fm)
    assert r.status_code == 200, r.text
    assert r.json()["amount_fen"] == -1_000
    assert sorted((p["account"], p["amount_fen"]) for p in r.json()["postings"]) == [
        (f"fund:{fund_id}:cash", -1_000),
        (f"fund:{fund_id}:fees", 1_000),
    ]
    assert await _cash(client, fm, fund_id) == 100_000  # a preview changes nothing

    # Kinds that do not fit the difference are refused with a reason.
    assert_problem(
        await client.post(f"{base}/{by_ref['X-9']['n']}/resolve", json={"kind": "bank_fee"}, headers=fm), 422
    )
    assert_problem(await client.post(f"{base}/{fee}/resolve", json={"kind": "missing_gift"}, headers=fm), 422)
    assert_problem(await client.post(f"{base}/{by_ref['R-4']['n']}/resolve", json={"kind": "refund"}, headers=fm), 422)
    assert_problem(
        await client.post(f"{base}/{fee}/resolve", json={"kind": "bank_fee"}, headers=await auth("auditor")), 403
    )

    resolutions = {
        "B-2": {"kind": "bank_fee", "note": "到账扣除手续费 10 元"},
        "F-1": {"kind": "bank_fee"},
        "X-9": {"kind": "missing_gift", "donor": "王女士"},
        "R-4": {"kind": "refund", "donation_id": ids["B-4"]},
        "B-3": {"kind": "amount_error", "note": "未到账的来款被误登记"},
    }
    for ref, body in resolutions.items():
        r = await client.post(f"{base}/{by_ref[ref]['n']}/resolve", json=body, headers=fm)
        assert r.status_code == 200, (ref, r.text)
    done = r.json()
    assert done["open_differences"] == 0
    assert all(d["correction"]["entry_id"] for d in done["differences"])
    # The books now equal the bank: 100 + 190 − 10 + 88 + 400 − 150 yuan.
    assert await _cash(client, fm, fund_id) == 61_800
    fund = (await client.get(f"/api/v1/funds/{fund_id}", headers=fm)).json()
    assert fund["fees_fen"] == 2_000

    # A re-run over the same statement shows no difference.
    r = await client.post("/api/v1/reconciliations", json=payload, headers=fm)
    assert r.status_code == 201, r.text
    assert r.json()["differences"] == [] and r.json()["matched"] == 6

    listed = (await client.get(f"/api/v1/reconciliations?fund_id={fund_id}", headers=fm)).json()["items"]
    first = next(x for x in listed if x["id"] == recon["id"])
    assert {d["external_id"]: d["correction"]["kind"] for d in first["differences"]} == {
        ref: body["kind"] for ref, body in resolutions.items()
    }
    async with db.session() as s:
        assert await ledger.trial_balance(s) == 0
        entries = (
            await s.scalars(
                select(JournalEntry).where(JournalEntry.idempotency_key.like(f"reconciliation:{recon['id']}:%"))
            )
        ).all()
        assert len(entries) == 3  # two fees and the amount error; the gift and the refund post their own entries
        assert all(e.source == "reconciliation" and f"对账 #{recon['id']}" in e.memo for e in entries)
        audited = (await s.scalars(select(AuditEntry).where(AuditEntry.entity == "reconciliation_difference"))).all()
        assert sorted(a.detail["kind"] for a in audited) == sorted(b["kind"] for b in resolutions.values())


async def test_a_timing_difference_is_recorded_and_posts_nothing(client, auth: Auth, fund_id: int) -> None:
    fm = await auth("fund")
    day = clock.today() - dt.timedelta(days=1)
    await offline_gift(client, fm, fund_id, "T-1", 5_000, day)
    payload = {
        "fund_id": fund_id,
        "source": "bank",
        "since": day.isoformat(),
        "until": day.isoformat(),
        "file": "date,amount,reference,payer\n",
    }
    r = await client.post("/api/v1/reconciliations", json=payload, headers=fm)
    assert r.status_code == 201, r.text
    recon = r.json()
    assert [d["kind"] for d in recon["differences"]] == ["missing_there"]
    url = f"/api/v1/reconciliations/{recon['id']}/differences/1/resolve"
    r = await client.post(url, json={"kind": "timing", "note": "次日到账"}, headers=fm)
    assert r.status_code == 200, r.text
    diff = r.json()["differences"][0]
    assert diff["resolved"] and diff["correction"]["kind"] == "timing" and diff["correction"]["entry_id"] is None
    assert await _cash(client, fm, fund_id) == 5_000
    # Nothing was posted, so the difference is still there until a later statement shows the money.
    r = await client.post("/api/v1/reconciliations", json=payload, headers=fm)
    assert [d["external_id"] for d in r.json()["differences"]] == ["T-1"]
    later = {
        **payload,
        "until": clock.today().isoformat(),
        "file": f"date,amount,reference,payer\n{clock.today()},50,T-1,x\n",
    }
    r = await client.post("/api/v1/reconciliations", json=later, headers=fm)
    assert r.status_code == 201 and r.json()["differences"] == []
