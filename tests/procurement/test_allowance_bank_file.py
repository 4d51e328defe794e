"""Payees with encrypted bank accounts, the district's sign-off, the bank file (GBK or UTF-8, what was signed),
a run paid once; the key rotation moves the accounts too."""

from __future__ import annotations

import base64
import csv
import dataclasses
import hashlib
import io
import os

from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from marketplace.app import create_app
from marketplace.cases import rotation
from marketplace.cases.crypto import field_cipher, key_id_of
from marketplace.cases.models import AllowancePayee
from marketplace.db import Database
from marketplace.keyfiles import FieldKey
from marketplace.settings import AllowanceRules
from tests.conftest import Auth, assert_problem
from tests.procurement.allowance_helpers import KID, YEAR, account_of, add_children, grant
from tests.procurement.helpers import make_budget


async def test_payee_account_is_encrypted_masked_and_checked(client, auth: Auth, db, world, settings) -> None:
    (child,) = await add_children(db, world, [("甲", ["orphan"], "active", KID)], settings)
    director = await auth("director")
    url = f"/api/v1/children/{child}/allowance-payee"
    assert_problem(await client.get(url, headers=director), 404)
    bad = {"kind": "guardian", "name": "王秀英", "bank_name": "工商银行", "account": "6222-ABC"}
    body = assert_problem(await client.post(url, json=bad, headers=director), 422)
    assert "银行账号" in body["detail"] and body["errors"][0]["field"] == "account"
    assert_problem(
        await client.post(url, json={**bad, "account": "62220212345678901"}, headers=await auth("director3")), 404
    )
    assert_problem(
        await client.post(url, json={**bad, "account": "62220212345678901"}, headers=await auth("supervisor")), 403
    )
    r = await client.post(url, json={**bad, "account": "6222 0212 3456 7890 1"}, headers=director)
    assert r.status_code == 201, r.text
    assert r.json()["account_masked"] == "**** **** **** 8901" and "account" not in r.json()
    # A change is a new row; the old one stays what a past payment named.
    r = await client.post(
        url,
        json={
            "kind": "institution",
            "name": "深圳市儿童福利院",
            "bank_name": "中国银行",
            "account": "6216610000000042",
        },
        headers=await auth("admin"),
    )
    assert r.status_code == 201, r.text
    shown = (await client.get(url, headers=await auth("supervisor"))).json()
    assert (shown["kind"], shown["name"], shown["account_masked"]) == (
        "institution",
        "深圳市儿童福利院",
        "**** **** **** 0042",
    )
    async with db.session(write=False) as session:
        rows = (await session.scalars(select(AllowancePayee).order_by(AllowancePayee.id))).all()
    assert len(rows) == 2
    assert all("62220212345678901" not in p.account_enc and "6216610000000042" not in p.account_enc for p in rows)
    assert field_cipher(settings).decrypt(rows[0].account_enc, "allowance_payees.account") == "62220212345678901"


async def test_sign_off_bank_file_and_payment_once(client, auth: Auth, db, world, settings) -> None:
    officer, admin = await auth("procurement"), await auth("admin")
    budget = await make_budget(client, officer, year=YEAR)
    ids = await add_children(db, world, [("甲", ["orphan"], "active", KID), ("乙", ["orphan"], "active", KID)])
    await grant(db, settings, ids[:1], payee_name="王秀英")
    await grant(db, settings, ids[1:], payee_name="李建国")
    run = (await client.post("/api/v1/allowances/runs", json={"month": f"{YEAR}-01"}, headers=officer)).json()
    url = f"/api/v1/allowances/runs/{run['id']}"
    # Before the district's sign-off: no bank file, no payment.
    body = assert_problem(await client.get(f"{url}/bank-file", headers=officer), 409)
    assert "尚未经区民政局签批" in body["detail"]
    body = assert_problem(await client.post(f"{url}/pay", headers=officer), 409)
    assert "尚未经区民政局签批" in body["detail"]
    assert_problem(await client.post(f"{url}/sign-off", json={}, headers=officer), 403)
    detail = (await client.get(url, headers=await auth("auditor"))).json()
    assert detail["status"] == "prepared" and detail["sign_off"] is None
    assert sorted(p["payee_name"] for p in detail["payments"] if p["kind"] == "living_allowance") == [
        "李建国",
        "王秀英",
    ]
    r = await client.post(f"{url}/sign-off", json={"note": "经局务会审定"}, headers=admin)
    assert r.status_code == 201, r.text
    signed = r.json()
    assert signed["signed_by"] == world.users["admin"] and signed["payments"] == 5
    assert signed["total_fen"] == 2 * 245_400 + 3 * 50_000 and signed["file_encoding"] == "gbk"
    body = assert_problem(await client.post(f"{url}/sign-off", json={}, headers=admin), 409)
    assert "不能再次签批" in body["detail"]
    r = await client.get(f"{url}/bank-file", headers=officer)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=gbk"  # once: it was "...; charset=gbk; charset=utf-8"
    assert hashlib.sha256(r.content).hexdigest() == signed["file_sha256"]
    rows = list(csv.reader(io.StringIO(r.content.decode("gbk"))))
    assert rows[0] == ["序号", "收款人户名", "收款账号", "开户银行", "金额(元)", "用途"]
    assert sorted((x[1], x[2], x[4]) for x in rows[1:]) == sorted(
        [("王秀英", account_of(ids[0]), "2454.00"), ("李建国", account_of(ids[1]), "2454.00")]
    )
    assert_problem(await client.get(f"{url}/bank-file", headers=await auth("fund")), 403)
    # Paid once: the ledger's payment is posted, a second payment refused.
    r = await client.post(f"{url}/pay", headers=officer)
    assert r.status_code == 200 and r.json()["status"] == "paid", r.text
    body = assert_problem(await client.post(f"{url}/pay", headers=officer), 409)
    assert "不能重复发放" in body["detail"]
    view = (await client.get(f"/api/v1/budgets/{budget['id']}", headers=officer)).json()
    lines = {x["code"]: x for x in view["lines"]}
    assert lines["living_allowance"]["paid_fen"] == 2 * 245_400
    # The file must be what was signed: an account changed under the signed run is refused.
    async with db.session() as session:
        await session.execute(
            update(AllowancePayee)
            .where(AllowancePayee.child_id == ids[0])
            .values(account_enc=field_cipher(settings).encrypt("6222000000000000000", "allowance_payees.account"))
        )
    body = assert_problem(await client.get(f"{url}/bank-file", headers=officer), 409)
    assert "与签批时不一致" in body["detail"]
    assert_problem(await client.post("/api/v1/allowances/runs/999999/sign-off", json={}, headers=admin), 404)


async def test_utf8_bank_file_and_a_name_gbk_cannot_write(settings, db, world) -> None:
    rules = AllowanceRules(bank_file_encoding="utf-8")
    async with AsyncTestClient(app=create_app(dataclasses.replace(settings, allowances=rules))) as client:
        auth = Auth(client)
        officer, admin = await auth("procurement"), await auth("admin")
        await make_budget(client, officer, year=YEAR)
        ids = await add_children(db, world, [("甲", ["orphan"], "active", KID)])
        await grant(db, settings, ids, payee_name="王😀")  # not in GBK
        run = (await client.post("/api/v1/allowances/runs", json={"month": f"{YEAR}-02"}, headers=officer)).json()
        signed = (await client.post(f"/api/v1/allowances/runs/{run['id']}/sign-off", json={}, headers=admin)).json()
        assert signed["file_encoding"] == "utf-8"
        r = await client.get(f"/api/v1/allowances/runs/{run['id']}/bank-file", headers=admin)
        assert "王😀" in r.content.decode("utf-8")
    async with AsyncTestClient(app=create_app(settings)) as client:  # GBK, the default
        auth = Auth(client)
        run = (
            await client.post(
                "/api/v1/allowances/runs", json={"month": f"{YEAR}-03"}, headers=await auth("procurement")
            )
        ).json()
        body = assert_problem(
            await client.post(f"/api/v1/allowances/runs/{run['id']}/sign-off", json={}, headers=await auth("admin")),
            409,
        )
        assert "GBK 无法表示" in body["detail"]


async def test_key_rotation_moves_the_payee_accounts(db, world, settings) -> None:
    (child,) = await add_children(db, world, [("甲", ["orphan"], "active", KID)], settings)
    await grant(db, settings, [child])
    new = FieldKey("k9", base64.b64encode(os.urandom(32)).decode())
    old = settings.field_key_ring
    rotated = dataclasses.replace(settings, field_key=new.secret, field_key_id=new.id, old_field_keys=old)
    cipher = field_cipher(rotated)
    database = Database(rotated)
    try:
        report = await rotation.rotate(database, cipher)
        again = await rotation.rotate(database, cipher)
    finally:
        await database.dispose()
    assert report.payees_rotated == 1 and report.fields["allowance_account"] == 1 and report.done
    assert again.payees_rotated == 0
    async with db.session(write=False) as session:
        token = await session.scalar(select(AllowancePayee.account_enc))
    assert token is not None and key_id_of(token) == "k9"
    assert cipher.decrypt(token, "allowance_payees.account") == account_of(child)


async def test_a_run_withdrawn_before_payment_releases_its_budget(client, auth: Auth, db, world, settings) -> None:
    officer, admin = await auth("procurement"), await auth("admin")
    budget = await make_budget(client, officer, year=YEAR)
    ids = await add_children(db, world, [("甲", ["orphan"], "active", KID)])
    await grant(db, settings, ids, payee_name="王秀英")
    run = (await client.post("/api/v1/allowances/runs", json={"month": f"{YEAR}-01"}, headers=officer)).json()
    url = f"/api/v1/allowances/runs/{run['id']}"

    async def living() -> dict[str, int]:
        view = (await client.get(f"/api/v1/budgets/{budget['id']}", headers=officer)).json()
        line: dict[str, int] = next(x for x in view["lines"] if x["code"] == "living_allowance")
        return line

    assert (await living())["committed_fen"] == 245_400
    assert (await client.post(f"{url}/sign-off", json={}, headers=admin)).status_code == 201
    # A reason is required; the director may not; then the signed list is withdrawn and its budget released.
    assert_problem(await client.post(f"{url}/withdraw", json={"reason": ""}, headers=officer), 400)
    assert_problem(
        await client.post(f"{url}/withdraw", json={"reason": "开户行退回"}, headers=await auth("director")), 403
    )
    r = await client.post(f"{url}/withdraw", json={"reason": "开户行退回：账号有误"}, headers=officer)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["status_label"], r.json()["withdraw_reason"]) == (
        "withdrawn",
        "已撤销",
        "开户行退回：账号有误",
    )
    assert (await living())["committed_fen"] == 0
    # Nothing more happens to a withdrawn run: no file, no payment, no second withdrawal.
    for method, path, body in (
        ("get", "bank-file", None),
        ("post", "pay", None),
        ("post", "withdraw", {"reason": "再次"}),
    ):
        answer = await getattr(client, method)(f"{url}/{path}", headers=officer, **({"json": body} if body else {}))
        problem = assert_problem(answer, 409)
        assert "已撤销" in problem["detail"]
    # The month can be prepared again: the child is on the new list, and the budget is committed once.
    again = (await client.post("/api/v1/allowances/runs", json={"month": f"{YEAR}-01"}, headers=officer)).json()
    assert again["id"] != run["id"] and again["already_paid"] == 0
    assert (await living())["committed_fen"] == 245_400
