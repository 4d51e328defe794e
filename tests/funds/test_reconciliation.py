from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace import clock
from marketplace.funds.reconciliation import Record, _reconcile_general, reconcile, reconcile_naive
from tests.conftest import Auth, assert_problem
from tests.funds.support import FakeChannel, body, event, intent_status, intent_succeeded, offline_gift, refund, sign

SECRET = "whsec_test_secret"


def test_matching_core_finds_each_kind_and_agrees_with_the_baseline() -> None:
    ours = [
        Record("a", 100, "succeeded", 1),
        Record("b", 200, "succeeded", 2),
        Record("c", 300, "failed", 3),
        Record("d", 400, "succeeded", 4),
    ]
    theirs = [
        Record("a", 100, "succeeded"),
        Record("b", 250, "succeeded"),
        Record("c", 300, "succeeded"),
        Record("z", 9, "succeeded"),
    ]
    out = reconcile(ours, theirs)
    assert out.matched == 1
    assert [(d.kind, d.external_id) for d in out.differences] == [
        ("amount_differs", "b"),
        ("status_differs", "c"),
        ("missing_there", "d"),
        ("missing_here", "z"),
    ]
    assert out.differences[0].expected_fen == 200 and out.differences[0].actual_fen == 250
    assert reconcile_naive(ours, theirs) == out
    # A settlement split over two lines is compared as its total.
    assert reconcile([Record("x", 10, "s")], [Record("x", 4, "s"), Record("x", 6, "s")]).matched == 1
    assert reconcile([Record("x", 4, "s", 1), Record("x", 6, "s", 2)], [Record("x", 10, "s")]).matched == 1
    assert reconcile([], []).differences == []


_records = st.lists(
    st.tuples(st.integers(0, 40), st.integers(-5, 5), st.sampled_from(["succeeded", "failed"])), max_size=30
)


@given(ours=_records, theirs=_records)
@settings(max_examples=200, deadline=None)
def test_fast_core_agrees_with_the_general_and_the_naive_ones(ours, theirs) -> None:
    a = [Record(f"k{k}", amount, status, k) for k, amount, status in {k: (k, m, s) for k, m, s in ours}.values()]
    b = [Record(f"k{k}", amount, status) for k, amount, status in {k: (k, m, s) for k, m, s in theirs}.values()]
    fast = reconcile(a, b)
    assert fast == _reconcile_general(a, b) == reconcile_naive(a, b)
    assert fast.matched + sum(1 for d in fast.differences if d.kind != "missing_here") == len(a)
    assert sum(1 for d in fast.differences if d.kind != "missing_there") + fast.matched == len(b)


async def _deliver(client, evt) -> None:
    raw = body(evt)
    r = await client.post("/api/v1/webhooks/stripe", content=raw, headers={"stripe-signature": sign(raw, SECRET)})
    assert r.status_code == 200, r.text


async def test_bank_statement_shows_exactly_the_planted_differences(client, auth: Auth, fund_id: int) -> None:
    fm = await auth("fund")
    day = clock.today() - dt.timedelta(days=3)
    ids = {}
    for ref, amount in (("B-1", 10_000), ("B-2", 20_000), ("B-3", 30_000), ("B-4", 40_000)):
        ids[ref] = await offline_gift(client, fm, fund_id, ref, amount, day)
    r = await client.post(
        f"/api/v1/donations/{ids['B-4']}/refunds",
        json={"amount_fen": 40_000, "reference": "R-4", "reason": "捐赠人要求退回"},
        headers=fm,
    )
    assert r.status_code == 201 and r.json()["status"] == "refunded" and r.json()["receipt_no"] is None
    # Planted: B-2 credited as 200.50 yuan, B-3 never arrived, X-9 unknown to us. A line outside the period is ignored.
    statement = (
        "date,amount,reference,payer\n"
        f"{day},100.00,B-1,单位B-1\n"
        f"{day},200.50,B-2,单位B-2\n"
        f"{day},400,B-4,单位B-4\n"
        f"{clock.today()},-400,R-4,单位B-4\n"
        f"{day},88.00,X-9,某人\n"
        f"{day - dt.timedelta(days=30)},1.00,OLD-1,旧\n"
    )
    payload = {
        "fund_id": fund_id,
        "source": "bank",
        "since": day.isoformat(),
        "until": clock.today().isoformat(),
        "file": statement,
    }
    r = await client.post("/api/v1/reconciliations", json=payload, headers=fm)
    assert r.status_code == 201, r.text
    recon = r.json()
    assert recon["matched"] == 3  # B-1, B-4 and its refund R-4
    got = [(d["kind"], d["external_id"], d["expected_fen"], d["actual_fen"]) for d in recon["differences"]]
    assert got == [
        ("amount_differs", "B-2", 20_000, 20_050),
        ("missing_there", "B-3", 30_000, None),
        ("missing_here", "X-9", None, 8_800),
    ]
    n = recon["differences"][0]["n"]
    url = f"/api/v1/reconciliations/{recon['id']}/differences/{n}/resolve"
    assert_problem(await client.post(url, json={"note": "银行多记 0.50 元"}, headers=fm), 400)  # no kind
    # The bank shows more than the books: it is not a fee.
    assert_problem(await client.post(url, json={"kind": "bank_fee"}, headers=fm), 422)
    r = await client.post(url, json={"kind": "amount_error", "note": "登记金额有误，按银行更正"}, headers=fm)
    assert r.status_code == 200 and r.json()["open_differences"] == 2
    fixed = r.json()["differences"][0]
    assert fixed["correction"]["kind"] == "amount_error" and fixed["correction"]["amount_fen"] == 50
    assert fixed["correction"]["entry_id"] is not None
    assert_problem(await client.post(url, json={"kind": "amount_error", "note": "again"}, headers=fm), 409)
    assert_problem(
        await client.post(
            f"/api/v1/reconciliations/{recon['id']}/differences/99/resolve", json={"kind": "timing"}, headers=fm
        ),
        404,
    )
    assert_problem(await client.post(url, json={"kind": "timing"}, headers=await auth("auditor")), 403)
    assert (
        await client.get(f"/api/v1/reconciliations/{recon['id']}", headers=await auth("auditor"))
    ).status_code == 200

    bad_csvs = [
        "date,amount\n2026-01-01,1\n",
        "date,amount,reference\nnot-a-date,1,A\n",
        f"date,amount,reference\n{day},1.234,A\n",
        f"date,amount_fen,reference\n{day},1,A\n{day},2,A\n",
    ]
    for text in bad_csvs:
        assert_problem(await client.post("/api/v1/reconciliations", json={**payload, "file": text}, headers=fm), 422)
    assert_problem(
        await client.post(
            "/api/v1/reconciliations", json={**payload, "since": "2026-02-01", "until": "2026-01-01"}, headers=fm
        ),
        422,
    )


async def test_stripe_period_shows_exactly_the_planted_differences(
    client, auth: Auth, fund_id: int, fake_channel: FakeChannel
) -> None:
    fm = await auth("fund")
    started = []
    for amount in (10_000, 20_000, 30_000, 40_000, 50_000):
        r = await client.post(
            "/api/v1/donations", json={"fund_id": fund_id, "amount_fen": amount, "donor": {"name": "网友"}}
        )
        started.append((r.json()["donation_id"], r.json()["payment_intent_id"], amount))
    for i, (did, intent, amount) in enumerate(started[:4]):
        await _deliver(
            client, event(f"evt_s{i}", "payment_intent.succeeded", intent_succeeded(did, intent, amount, fee=60))
        )
    # The fifth failed as far as we heard; Stripe settled its charge anyway.
    did5, intent5, amount5 = started[4]
    failed = intent_status(did5, intent5, amount5, "requires_payment_method")
    failed["latest_charge"] = f"ch_{intent5[3:]}"
    await _deliver(client, event("evt_f5", "payment_intent.payment_failed", failed))
    _, intent1, _ = started[0]
    await _deliver(client, event("evt_r1", "refund.created", refund("re_1", intent1, f"ch_{intent1[3:]}", 4_000)))

    charge = {d: f"ch_{i[3:]}" for d, i, _ in started}
    fake_channel.settled = [
        Record(charge[started[0][0]], 10_000, "succeeded"),
        Record("re_1", -4_000, "refunded"),
        Record(charge[started[1][0]], 20_000, "succeeded"),
        Record(charge[started[2][0]], 29_000, "succeeded"),  # planted: amount differs
        # started[3] missing at Stripe: planted missing_there
        Record(charge[did5], 50_000, "succeeded"),  # planted: status differs
        Record("ch_stranger", 7_000, "succeeded"),  # planted: missing here
    ]
    today = clock.today().isoformat()
    r = await client.post(
        "/api/v1/reconciliations",
        json={"fund_id": fund_id, "source": "stripe", "since": today, "until": today},
        headers=fm,
    )
    assert r.status_code == 201, r.text
    recon = r.json()
    assert recon["matched"] == 3
    kinds = {(d["kind"], d["external_id"]) for d in recon["differences"]}
    assert kinds == {
        ("amount_differs", charge[started[2][0]]),
        ("missing_there", charge[started[3][0]]),
        ("status_differs", charge[did5]),
        ("missing_here", "ch_stranger"),
    }
    status = next(d for d in recon["differences"] if d["kind"] == "status_differs")
    assert status["expected_status"] == "failed" and status["actual_status"] == "succeeded"
    assert status["donation_id"] == did5


async def test_nightly_job_reconciles_yesterday_once(db, fund_id: int, fake_channel: FakeChannel) -> None:
    from marketplace.funds import jobs
    from workers import runtime

    assert runtime.JOBS["funds.reconcile_yesterday"] is jobs.reconcile_yesterday
    fake_channel.settled = [Record("ch_unknown", 500, "succeeded")]
    first = await jobs.reconcile_yesterday(db)
    second = await jobs.reconcile_yesterday(db)
    assert len(first) == 1 and second == []
    async with db.session(write=False) as s:
        from marketplace.funds import reconciling

        recon = await reconciling.get(s, first[0])
        assert recon.since == recon.until == clock.today() - dt.timedelta(days=1)
        assert [(d.kind, d.external_id) for d in recon.differences] == [("missing_here", "ch_unknown")]
