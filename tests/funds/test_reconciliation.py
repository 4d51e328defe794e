from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace import clock
from marketplace.funds.reconciliation import Record, _reconcile_general, reconcile, reconcile_naive
from tests.conftest import Auth, assert_problem
from tests.funds.live import LiveStripe
from tests.funds.support import offline_gift


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
    client, auth: Auth, fund_id: int, stripe_live: LiveStripe
) -> None:
    """Reconciliation against localstripe's own balance transactions. The differences are planted at the provider's
    side or in the notices: a notice that misstated the amount (localstripe's, amount changed and signed again), a
    success notice for a payment Stripe never settled, a payment we heard failed that Stripe settled, and a charge
    made at Stripe outside the app."""
    fm = await auth("fund")
    started = []
    for amount in (10_000, 20_000, 30_000, 40_000, 50_000):
        r = await client.post(
            "/api/v1/donations", json={"fund_id": fund_id, "amount_fen": amount, "donor": {"name": "网友"}}
        )
        assert r.status_code == 201, r.text
        started.append((r.json()["donation_id"], r.json()["payment_intent_id"], amount))
    charge: dict[int, str] = {}
    for did, intent, _ in (started[0], started[1], started[2], started[4]):
        charge[did] = stripe_live.pay(intent)["id"]
    for _, intent, _ in started[:2]:
        await stripe_live.deliver(client, stripe_live.succeeded(intent))
    # Planted: the notice of the third said 290 yuan; Stripe settled 300.
    did3, intent3, _ = started[2]
    misstated = stripe_live.succeeded(intent3).event
    misstated["data"]["object"]["amount"] = 29_000
    await stripe_live.deliver(client, misstated)
    # Planted: the fourth was never paid at Stripe, yet a success notice for a charge of it arrived.
    did4, intent4, amount4 = started[3]
    ghost = f"ch_never_settled_{did4}"
    await stripe_live.deliver(
        client,
        stripe_live.notice(
            "payment_intent.succeeded",
            {
                **stripe_live.intent(intent4),
                "status": "succeeded",
                "latest_charge": {
                    "id": ghost,
                    "object": "charge",
                    "amount": amount4,
                    "status": "succeeded",
                    "balance_transaction": {"id": f"txn_{ghost}", "fee": 0},
                },
            },
        ),
    )
    # Planted: the fifth failed as far as we heard; Stripe settled its charge (its success notice never came).
    did5, intent5, _ = started[4]
    failed = {**stripe_live.intent(intent5), "status": "requires_payment_method", "latest_charge": charge[did5]}
    await stripe_live.deliver(client, stripe_live.notice("payment_intent.payment_failed", failed, f"evt_f_{intent5}"))
    # A partial refund of the first, made at Stripe and announced.
    _, intent1, _ = started[0]
    refund1 = stripe_live.refund(intent1, 4_000)
    await stripe_live.deliver(client, stripe_live.notice("refund.created", refund1))
    # Planted: a payment made at Stripe outside the app.
    stranger = stripe_live.client.v1.payment_intents.create({"amount": 7_000, "currency": "cny"})
    stranger_charge = stripe_live.pay(stranger.id)["id"]

    today = clock.today().isoformat()
    r = await client.post(
        "/api/v1/reconciliations",
        json={"fund_id": fund_id, "source": "stripe", "since": today, "until": today},
        headers=fm,
    )
    assert r.status_code == 201, r.text
    recon = r.json()
    assert recon["matched"] == 3  # the first's charge and its refund, the second's charge
    ours = {*charge.values(), ghost, stranger_charge, refund1["id"]}
    mine = [d for d in recon["differences"] if d["external_id"] in ours]
    # Whatever else this localstripe holds (other tests' payments) is unknown here, never one of ours.
    assert all(d["kind"] == "missing_here" for d in recon["differences"] if d["external_id"] not in ours)
    kinds = {(d["kind"], d["external_id"]) for d in mine}
    assert kinds == {
        ("amount_differs", charge[did3]),
        ("missing_there", ghost),
        ("status_differs", charge[did5]),
        ("missing_here", stranger_charge),
    }
    differs = next(d for d in mine if d["kind"] == "amount_differs")
    assert differs["expected_fen"] == 29_000 and differs["actual_fen"] == 30_000
    status = next(d for d in mine if d["kind"] == "status_differs")
    assert status["expected_status"] == "failed" and status["actual_status"] == "succeeded"
    assert status["donation_id"] == did5


async def test_nightly_job_reconciles_yesterday_once(db, fund_id: int, stripe_live: LiveStripe, frozen_clock) -> None:
    from marketplace.funds import jobs
    from workers import runtime

    assert runtime.JOBS["funds.reconcile_yesterday"] is jobs.reconcile_yesterday
    # A payment at Stripe the app never heard of, today; the job runs tomorrow, for yesterday.
    unknown = stripe_live.client.v1.payment_intents.create({"amount": 500, "currency": "cny"})
    unknown_charge = stripe_live.pay(unknown.id)["id"]
    frozen_clock(clock.now() + dt.timedelta(days=1))
    first = await jobs.reconcile_yesterday(db)
    second = await jobs.reconcile_yesterday(db)
    assert len(first) == 1 and second == []
    async with db.session(write=False) as s:
        from marketplace.funds import reconciling

        recon = await reconciling.get(s, first[0])
        assert recon.since == recon.until == clock.today() - dt.timedelta(days=1)
        found = {(d.kind, d.external_id) for d in recon.differences}
        assert ("missing_here", unknown_charge) in found
        assert {kind for kind, _ in found} == {"missing_here"}  # this localstripe's other payments: none ours
