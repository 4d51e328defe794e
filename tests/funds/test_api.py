from __future__ import annotations

import datetime as dt
import time

from marketplace import clock
from marketplace.funds import channels
from marketplace.settings import Settings
from tests.conftest import Auth, assert_problem
from tests.funds.live import LiveStripe, unreachable_channel
from tests.funds.support import body, sign
from tests.support.servers import free_port

SECRET = "whsec_test_secret"


async def deliver(client, evt, secret: str = SECRET, timestamp: int | None = None):
    raw = body(evt)
    return await client.post(
        "/api/v1/webhooks/stripe",
        content=raw,
        headers={"stripe-signature": sign(raw, secret, timestamp), "content-type": "application/json"},
    )


async def test_online_donation_to_receipt_and_refund(
    client, auth: Auth, fund_id: int, stripe_live: LiveStripe, world
) -> None:
    r = await client.post(
        "/api/v1/donations",
        json={
            "fund_id": fund_id,
            "amount_fen": 50_000,
            "donor": {"name": "张爱心", "email": "Zhang@Example.com", "anonymous": False},
            "designation": {"category": "psych_counselling"},
        },
    )
    assert r.status_code == 201, r.text
    started = r.json()
    intent = started["payment_intent_id"]
    assert started["status"] == "pending" and started["client_secret"].startswith(intent)
    # What reached the provider: the amount, and only the allowed metadata (no donor's personal data).
    at_stripe = stripe_live.intent(intent)
    assert at_stripe["amount"] == 50_000 and at_stripe["currency"] == "cny"
    assert at_stripe["metadata"] == {
        "donation_id": str(started["donation_id"]),
        "fund_id": str(fund_id),
        "purpose": "category:psych_counselling",
    }
    fm = await auth("fund")
    d = (await client.get(f"/api/v1/donations/{started['donation_id']}", headers=fm)).json()
    assert d["status"] == "pending" and d["receipt_no"] is None

    # The donor pays at Stripe; localstripe's own signed notice reaches the app (three times: redeliveries).
    charge = stripe_live.pay(intent)
    paid = stripe_live.succeeded(intent)
    for _ in range(3):
        await stripe_live.deliver(client, paid)
    # Stripe's sibling notice of the same money.
    await stripe_live.deliver(client, stripe_live.notice("charge.succeeded", charge))
    d = (await client.get(f"/api/v1/donations/{started['donation_id']}", headers=fm)).json()
    year = clock.today().year
    assert d["status"] == "succeeded" and d["fee_fen"] == 0  # localstripe takes no fee
    assert d["external_id"] == intent and d["receipt_no"] == f"FT-{year}-000001"
    fund = (await client.get(f"/api/v1/funds/{fund_id}", headers=fm)).json()
    assert fund["balance_fen"] == 50_000
    assert fund["restricted_balance_fen"] == 50_000 and fund["unrestricted_balance_fen"] == 0

    # Two equal partial refunds at Stripe are two refunds; a redelivery and the charge's own notice add nothing.
    refunds = [stripe_live.refund(intent, 10_000) for _ in range(2)]
    assert refunds[0]["id"] != refunds[1]["id"]
    first = stripe_live.signed(stripe_live.notice("refund.created", refunds[0]))
    await stripe_live.deliver(client, first)
    await stripe_live.deliver(client, stripe_live.notice("refund.created", refunds[1]))
    await stripe_live.deliver(client, stripe_live.resigned(first))
    refunded_charge = stripe_live.charge(charge["id"])
    assert refunded_charge["amount_refunded"] == 20_000
    await stripe_live.deliver(client, stripe_live.notice("charge.refunded", refunded_charge))
    d = (await client.get(f"/api/v1/donations/{started['donation_id']}", headers=fm)).json()
    assert d["status"] == "partially_refunded" and d["refunded_fen"] == 20_000
    # The receipt was voided on refund and reissued for what was kept: numbers stay consecutive.
    assert d["receipt_no"] == f"FT-{year}-000003"
    fund = (await client.get(f"/api/v1/funds/{fund_id}", headers=fm)).json()
    assert fund["balance_fen"] == 30_000

    ledger = (await client.get(f"/api/v1/funds/{fund_id}/ledger", headers=fm)).json()
    assert ledger["total"] == 3  # payment, two refunds (no fee at localstripe)
    for entry in ledger["items"]:
        assert sum(p["amount_fen"] for p in entry["postings"]) == 0

    public = (await client.get(f"/api/v1/public/funds/{fund_id}")).json()
    assert public["income_fen"] == 50_000 and public["refunded_fen"] == 20_000
    roll = (await client.get(f"/api/v1/public/funds/{fund_id}/donors")).json()
    assert [e["name"] for e in roll["items"]] == ["张爱心"] and roll["items"][0]["total_fen"] == 30_000
    assert "email" not in roll["items"][0]

    # Reconciled today against localstripe's balance transactions: the charge and both refunds match.
    today = clock.today().isoformat()
    r = await client.post(
        "/api/v1/reconciliations",
        json={"fund_id": fund_id, "source": "stripe", "since": today, "until": today},
        headers=fm,
    )
    assert r.status_code == 201, r.text
    recon = r.json()
    assert recon["matched"] == 3, recon["differences"]
    # Whatever else this localstripe holds (other tests' payments) is listed as unknown here, never as ours.
    assert all(x["kind"] == "missing_here" for x in recon["differences"])


async def test_webhook_rejects_tampered_stale_and_unsigned(
    client, auth: Auth, fund_id: int, stripe_live: LiveStripe
) -> None:
    r = await client.post("/api/v1/donations", json={"fund_id": fund_id, "amount_fen": 10_000, "donor": {"name": "李"}})
    started = r.json()
    stripe_live.pay(started["payment_intent_id"])
    genuine = stripe_live.succeeded(started["payment_intent_id"])  # signed by localstripe
    evt = genuine.event
    assert evt["data"]["object"]["amount"] == 10_000
    tampered = genuine.raw.replace(b"10000", b"99999")
    assert tampered != genuine.raw
    assert_problem(
        await client.post("/api/v1/webhooks/stripe", content=tampered, headers={"stripe-signature": genuine.signature}),
        400,
    )
    assert_problem(await deliver(client, evt, secret="whsec_wrong"), 400)
    an_hour_ago = int(time.time()) - 3600  # noqa: TID251 - Stripe checks signatures against the real time
    assert_problem(await deliver(client, evt, timestamp=an_hour_ago), 400)
    assert_problem(await client.post("/api/v1/webhooks/stripe", content=genuine.raw), 400)
    assert_problem(
        await client.post(
            "/api/v1/webhooks/stripe", content=b"not json", headers={"stripe-signature": sign(b"not json", SECRET)}
        ),
        400,
    )
    fm = await auth("fund")
    d = (await client.get(f"/api/v1/donations/{started['donation_id']}", headers=fm)).json()
    assert d["status"] == "pending"  # nothing refused moved the gift
    r = await stripe_live.post(client, genuine)
    assert r.status_code == 200, r.text
    d = (await client.get(f"/api/v1/donations/{started['donation_id']}", headers=fm)).json()
    assert d["status"] == "succeeded" and d["amount_fen"] == 10_000


async def test_donation_validation_and_channel_down(
    client, fund_id: int, stripe_live: LiveStripe, settings: Settings, monkeypatch
) -> None:
    """The provider unreachable: the app's real Stripe channel pointed at a port nobody listens on (localstripe
    cannot be made to refuse connections while other tests of the worker use it)."""
    before = stripe_live.intents()
    bad = [
        {"fund_id": fund_id, "amount_fen": 0, "donor": {"name": "x"}},
        {"fund_id": fund_id, "amount_fen": 1000, "donor": {"name": ""}},
        {"fund_id": fund_id, "amount_fen": 1000, "donor": {"name": "x"}, "child_id": 3},
        {"fund_id": fund_id, "amount_fen": 1000, "donor": {"name": "x", "email": "nope"}},
    ]
    for payload in bad:
        assert_problem(await client.post("/api/v1/donations", json=payload), 400)
    assert_problem(
        await client.post(
            "/api/v1/donations",
            json={"fund_id": fund_id, "amount_fen": 1000, "donor": {"name": "x"}, "designation": {"category": "nope"}},
        ),
        422,
    )
    assert_problem(
        await client.post("/api/v1/donations", json={"fund_id": 999, "amount_fen": 1000, "donor": {"name": "x"}}), 404
    )
    assert stripe_live.gifts_started_since(before) == 0  # nothing refused reached Stripe
    monkeypatch.setitem(channels.ONLINE_CHANNELS, "stripe", lambda s: unreachable_channel(s, free_port()))
    body_ = assert_problem(
        await client.post("/api/v1/donations", json={"fund_id": fund_id, "amount_fen": 1000, "donor": {"name": "x"}}),
        503,
    )
    assert body_["donation_id"]
    assert stripe_live.gifts_started_since(before) == 0


async def test_an_online_gift_changes_purpose_with_consent_then_a_lost_dispute_takes_it_back(
    client, auth: Auth, fund_id: int, stripe_live: LiveStripe
) -> None:
    fm = await auth("fund")
    r = await client.post(
        "/api/v1/donations",
        json={
            "fund_id": fund_id,
            "amount_fen": 20_000,
            "donor": {"name": "赵女士"},
            "designation": {"category": "psych_counselling"},
        },
    )
    assert r.status_code == 201, r.text
    started = r.json()
    intent, donation_id = started["payment_intent_id"], started["donation_id"]
    charge = stripe_live.pay(intent)
    await stripe_live.deliver(client, stripe_live.succeeded(intent))

    url = f"/api/v1/donations/{donation_id}/purpose"
    assert_problem(await client.post(url, json={"purpose": "category:education_aid"}, headers=fm), 400)
    r = await client.post(
        url,
        json={"purpose": "category:education_aid", "consent_note": "邮件同意", "consent_reference": "邮件 0412"},
        headers=fm,
    )
    assert r.status_code == 201, r.text
    fund = (await client.get(f"/api/v1/funds/{fund_id}", headers=fm)).json()
    by = {p["purpose"]: p["available_fen"] for p in fund["purposes"]}
    assert by["category:education_aid"] == 20_000 and by.get("category:psych_counselling", 0) == 0
    # The provider keeps what the donor was asked for when paying; the change is ours, with its consent.
    assert stripe_live.intent(intent)["metadata"]["purpose"] == "category:psych_counselling"

    # The donor's bank disputes the charge and the fund loses: the money leaves the purpose it now serves.
    dispute = {
        "id": f"dp_{charge['id'][3:]}",
        "object": "dispute",
        "amount": charge["amount"],
        "charge": charge["id"],
        "payment_intent": intent,
        "reason": "fraudulent",
    }
    await stripe_live.deliver(
        client, stripe_live.notice("charge.dispute.created", {**dispute, "status": "needs_response"})
    )
    d = (await client.get(f"/api/v1/donations/{donation_id}", headers=fm)).json()
    assert d["status"] == "succeeded" and d["refunded_fen"] == 0  # an open dispute moves nothing
    await stripe_live.deliver(client, stripe_live.notice("charge.dispute.closed", {**dispute, "status": "lost"}))
    d = (await client.get(f"/api/v1/donations/{donation_id}", headers=fm)).json()
    assert d["status"] == "refunded" and d["refunded_fen"] == 20_000 and d["receipt_no"] is None
    fund = (await client.get(f"/api/v1/funds/{fund_id}", headers=fm)).json()
    assert fund["balance_fen"] == 0
    assert {p["purpose"]: p["available_fen"] for p in fund["purposes"]}.get("category:education_aid", 0) == 0


async def test_offline_donation_disbursement_and_restrictions(client, auth: Auth, fund_id: int, world) -> None:
    fm = await auth("fund")
    svc = world.services[0]
    gift = {
        "fund_id": fund_id,
        "amount_fen": 100_000,
        "channel": "bank_transfer",
        "reference": "BANK-0001",
        "received_on": clock.today().isoformat(),
        "donor": {"name": "深圳市某某科技有限公司", "kind": "enterprise"},
        "designation": {"service_id": svc},
    }
    r = await client.post("/api/v1/donations/offline", json=gift, headers=fm)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "succeeded" and r.json()["receipt_no"].startswith("FT-")
    assert_problem(await client.post("/api/v1/donations/offline", json=gift, headers=fm), 409)
    cash = {**gift, "channel": "cash", "reference": None, "amount_fen": 20_000, "designation": None}
    assert (await client.post("/api/v1/donations/offline", json=cash, headers=fm)).status_code == 201

    # Restricted money is spent only on its purpose and only as far as it goes.
    over = {"amount_fen": 100_001, "purpose": f"service:{svc}", "service_id": svc, "memo": "心理疏导 10 个案"}
    body_ = assert_problem(await client.post(f"/api/v1/funds/{fund_id}/disbursements", json=over, headers=fm), 409)
    assert body_["available_fen"] == 100_000
    wrong = {"amount_fen": 1_000, "purpose": f"service:{svc}", "service_id": world.services[1]}
    assert_problem(await client.post(f"/api/v1/funds/{fund_id}/disbursements", json=wrong, headers=fm), 422)
    ok = {"amount_fen": 60_000, "purpose": f"service:{svc}", "service_id": svc, "memo": "心理疏导 6 个案"}
    r = await client.post(f"/api/v1/funds/{fund_id}/disbursements", json=ok, headers=fm)
    assert r.status_code == 201, r.text
    unres = {"amount_fen": 20_001, "purpose": "unrestricted"}
    assert_problem(await client.post(f"/api/v1/funds/{fund_id}/disbursements", json=unres, headers=fm), 409)
    fund = (await client.get(f"/api/v1/funds/{fund_id}", headers=fm)).json()
    assert fund["balance_fen"] == 60_000 and fund["restricted_balance_fen"] == 40_000
    assert fund["unrestricted_balance_fen"] == 20_000

    # Reversal corrects a disbursement; a second reversal is refused.
    did = r.json()["id"]
    rev = await client.post(
        f"/api/v1/funds/{fund_id}/disbursements/{did}/reverse", json={"reason": "重复拨付"}, headers=fm
    )
    assert rev.status_code == 200 and rev.json()["status"] == "reversed"
    assert_problem(
        await client.post(f"/api/v1/funds/{fund_id}/disbursements/{did}/reverse", json={"reason": "x"}, headers=fm), 409
    )
    fund = (await client.get(f"/api/v1/funds/{fund_id}", headers=fm)).json()
    assert fund["restricted_balance_fen"] == 100_000

    report = await client.get(f"/api/v1/reports/fund?fund_id={fund_id}&format=csv", headers=fm)
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/csv")
    assert "BANK" not in report.text and "income" in report.text


async def test_purpose_change_needs_consent(client, auth: Auth, fund_id: int, world) -> None:
    fm = await auth("fund")
    gift = {
        "fund_id": fund_id,
        "amount_fen": 30_000,
        "channel": "cash",
        "received_on": clock.today().isoformat(),
        "donor": {"name": "王先生"},
        "designation": {"street_id": world.streets[0]},
    }
    donation = (await client.post("/api/v1/donations/offline", json=gift, headers=fm)).json()
    url = f"/api/v1/donations/{donation['id']}/purpose"
    assert_problem(await client.post(url, json={"purpose": "unrestricted"}, headers=fm), 400)
    assert_problem(
        await client.post(
            url, json={"purpose": "bogus", "consent_note": "同意", "consent_reference": "信函"}, headers=fm
        ),
        422,
    )
    r = await client.post(
        url,
        json={"purpose": "category:education_aid", "consent_note": "电话同意", "consent_reference": "录音 0412"},
        headers=fm,
    )
    assert r.status_code == 201, r.text
    assert r.json()["purpose"] == "category:education_aid"
    fund = (await client.get(f"/api/v1/funds/{fund_id}", headers=fm)).json()
    by = {p["purpose"]: p for p in fund["purposes"]}
    assert by["category:education_aid"]["available_fen"] == 30_000
    assert by[f"street:{world.streets[0]}"]["available_fen"] == 0


async def test_roles(client, auth: Auth, fund_id: int) -> None:
    for user in ("director", "org", "supervisor", "procurement"):
        h = await auth(user)
        if user == "supervisor":
            # A supervisor lists the own street's funds (issue #21): the district's fund is none of them.
            assert (await client.get("/api/v1/funds", headers=h)).json()["items"] == []
            assert_problem(await client.get(f"/api/v1/funds/{fund_id}", headers=h), 404)
        else:
            assert_problem(await client.get("/api/v1/funds", headers=h), 403)
        assert_problem(await client.get("/api/v1/donations", headers=h), 403)
        assert_problem(await client.get("/api/v1/donors", headers=h), 403)
    for user in ("admin", "auditor"):
        h = await auth(user)
        assert (await client.get("/api/v1/funds", headers=h)).status_code == 200
        assert (await client.get(f"/api/v1/reports/fund?fund_id={fund_id}", headers=h)).status_code == 200
        assert_problem(
            await client.post(
                f"/api/v1/funds/{fund_id}/disbursements", json={"amount_fen": 1, "purpose": "unrestricted"}, headers=h
            ),
            403,
        )
    assert_problem(await client.get("/api/v1/funds"), 401)
    assert (await client.get(f"/api/v1/public/funds/{fund_id}")).status_code == 200
    assert_problem(await client.get("/api/v1/public/funds/999"), 404)


async def test_create_fund(client, auth: Auth, world) -> None:
    fm = await auth("fund")
    body_ = {
        "code": "futian_street_foundation",
        "name": "福田街道基金会",
        "kind": "street_foundation",
        "street_id": world.streets[0],
    }
    r = await client.post("/api/v1/funds", json=body_, headers=fm)
    assert r.status_code == 201 and r.json()["balance_fen"] == 0
    assert_problem(await client.post("/api/v1/funds", json=body_, headers=fm), 409)
    assert_problem(await client.post("/api/v1/funds", json={**body_, "code": "Bad Code"}, headers=fm), 400)
    # The district sets up funds too (issue #21); a director does not.
    assert_problem(
        await client.post("/api/v1/funds", json={**body_, "code": "x2"}, headers=await auth("director")), 403
    )


async def test_bank_statement_import_records_new_lines_once(client, auth: Auth, fund_id: int) -> None:
    fm = await auth("fund")
    day = (clock.today() - dt.timedelta(days=1)).isoformat()
    r = await client.post(
        "/api/v1/donations/offline",
        json={
            "fund_id": fund_id,
            "amount_fen": 5_000,
            "channel": "bank_transfer",
            "reference": "S-1",
            "received_on": day,
            "donor": {"name": "陈女士"},
        },
        headers=fm,
    )
    assert r.status_code == 201
    statement = (
        "date,amount_fen,reference,payer\n"
        f"{day},5000,S-1,陈女士\n"
        f"{day},120000,S-2,深圳市某某贸易有限公司\n"
        f"{day},3000,S-3,\n"
        f"{day},-5000,S-4,退款\n"
    )
    r = await client.post("/api/v1/donations/offline/import", json={"fund_id": fund_id, "file": statement}, headers=fm)
    assert r.status_code == 201, r.text
    out = r.json()
    assert len(out["created"]) == 2 and out["created_fen"] == 123_000
    assert out["already_recorded"] == ["S-1"] and out["not_gifts"] == ["S-4"]
    again = (
        await client.post("/api/v1/donations/offline/import", json={"fund_id": fund_id, "file": statement}, headers=fm)
    ).json()
    assert again["created"] == [] and sorted(again["already_recorded"]) == ["S-1", "S-2", "S-3"]
    fund = (await client.get(f"/api/v1/funds/{fund_id}", headers=fm)).json()
    assert fund["balance_fen"] == 128_000 and fund["unrestricted_balance_fen"] == 128_000
    donors = (await client.get("/api/v1/donors?q=贸易", headers=fm)).json()
    assert donors["items"][0]["kind"] == "enterprise" and donors["items"][0]["total_fen"] == 120_000
    future = f"date,amount_fen,reference,payer\n{clock.today() + dt.timedelta(days=2)},1,F-1,x\n"
    assert_problem(
        await client.post("/api/v1/donations/offline/import", json={"fund_id": fund_id, "file": future}, headers=fm),
        422,
    )
    assert_problem(
        await client.post(
            "/api/v1/donations/offline/import",
            json={"fund_id": fund_id, "file": statement},
            headers=await auth("auditor"),
        ),
        403,
    )


async def test_ids_beyond_the_database_integer_range_are_a_400_problem(client, auth) -> None:
    """Found by tests/fuzz: an id past PostgreSQL's integer range overflowed the driver into a 500."""
    h = await auth("fund")
    for method, url in [
        ("GET", "/api/v1/funds/{id}"),
        ("GET", "/api/v1/donations/{id}"),
        ("GET", "/api/v1/reconciliations/{id}"),
        ("GET", "/api/v1/public/funds/{id}/donors"),
        ("GET", "/api/v1/reconciliations?fund_id={id}"),
    ]:
        body = assert_problem(await client.request(method, url.format(id=2**31), headers=h), 400)
        assert "2147483647" in body["detail"], body
        assert_problem(await client.request(method, url.format(id=2**70), headers=h), 400)
        if "?" not in url:  # the largest id the database holds is valid: it just names nothing
            assert_problem(await client.request(method, url.format(id=2**31 - 1), headers=h), 404)


async def test_fund_list_shows_each_fund_its_own_balances(client, auth: Auth, fund_id: int, world) -> None:
    fm = await auth("fund")
    body_ = {
        "code": "futian_street_foundation",
        "name": "福田街道基金会",
        "kind": "street_foundation",
        "street_id": world.streets[0],
    }
    other = (await client.post("/api/v1/funds", json=body_, headers=fm)).json()["id"]
    for fid, amount in ((fund_id, 50_000), (other, 7_000)):
        gift = {
            "fund_id": fid,
            "amount_fen": amount,
            "channel": "cash",
            "received_on": clock.today().isoformat(),
            "donor": {"name": "王爱心"},
        }
        assert (await client.post("/api/v1/donations/offline", json=gift, headers=fm)).status_code == 201
    listed = (await client.get("/api/v1/funds", headers=fm)).json()
    assert listed["total"] == 2
    assert {f["id"]: f["balance_fen"] for f in listed["items"]} == {fund_id: 50_000, other: 7_000}
    for item in listed["items"]:
        assert item == (await client.get(f"/api/v1/funds/{item['id']}", headers=fm)).json()
