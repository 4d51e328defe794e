"""Building blocks for the allowance tests: children, approved decisions (written directly, as the district's
workflow would leave them; tests/cases/test_allowance_decisions.py drives the workflow itself), payees."""

from __future__ import annotations

import datetime as dt
from typing import Any

from marketplace.cases import eligibility
from marketplace.cases.crypto import field_cipher
from marketplace.cases.models import AllowanceDecision, AllowancePayee, Child
from marketplace.settings import Settings

YEAR = 2026
KID = dt.date(2015, 5, 1)
DECIDED = dt.datetime(YEAR - 1, 12, 15, 2, 0, tzinfo=dt.UTC)


async def add_children(
    db: Any, world: Any, specs: list[tuple[str, list[str], str, dt.date]], settings: Settings | None = None
) -> list[int]:
    """Children (the i-th in community i % 3); with ``settings`` their identity numbers are sealed for reading."""
    cipher = field_cipher(settings) if settings is not None else None
    ids = []
    async with db.session() as session:
        for i, (name, categories, status, birth) in enumerate(specs):
            child = Child(
                community_id=world.communities[i % 3],
                street_id=world.streets[0] if i % 3 < 2 else world.streets[1],
                name=name,
                gender="female",
                birth_date=birth,
                id_number_enc=cipher.encrypt(f"44030420150501{i:04d}", "children.id_number") if cipher else "x",
                id_number_hmac=f"h{name}",
                categories=categories,
                guardianship="family",
                risk_level="medium",
                next_visit_due=dt.date(YEAR, 12, 1),
                status=status,
            )
            session.add(child)
            await session.flush()
            ids.append(child.id)
    return ids


def account_of(child_id: int) -> str:
    return f"622202{child_id:013d}"


async def grant(
    db: Any,
    settings: Settings,
    child_ids: list[int],
    *,
    category: str = "orphan",
    month: str = f"{YEAR}-01",
    source: str = "district_budget",
    payee: bool = True,
    payee_name: str = "王秀英",
    decided: dt.datetime = DECIDED,
) -> list[int]:
    """Approved grants (and a guardian payee with a bank account) for the children."""
    cipher = field_cipher(settings)
    out = []
    async with db.session() as session:
        for child_id in child_ids:
            child = await session.get(Child, child_id)
            assert child is not None
            decision = AllowanceDecision(
                child_id=child_id,
                community_id=child.community_id,
                street_id=child.street_id,
                kind="living_allowance",
                action="grant",
                category=category,
                source=source,
                evidence=["认定材料.pdf"],
                status="approved",
                effective_month=month,
                proposed_at=decided - dt.timedelta(days=10),
                decided_at=decided,
            )
            session.add(decision)
            if payee:
                account = account_of(child_id)
                session.add(
                    AllowancePayee(
                        child_id=child_id,
                        kind="guardian",
                        name=payee_name,
                        bank_name="中国工商银行深圳福田支行",
                        account_enc=cipher.encrypt(account, eligibility.PAYEE_FIELD),
                        account_last4=account[-4:],
                    )
                )
            await session.flush()
            out.append(decision.id)
    return out


async def cease(db: Any, child_id: int, month: str, *, decided: dt.datetime = DECIDED) -> None:
    async with db.session() as session:
        child = await session.get(Child, child_id)
        assert child is not None
        session.add(
            AllowanceDecision(
                child_id=child_id,
                community_id=child.community_id,
                street_id=child.street_id,
                kind="living_allowance",
                action="cease",
                reason="adopted",
                evidence=["收养登记证.pdf"],
                status="approved",
                effective_month=month,
                proposed_at=decided - dt.timedelta(days=10),
                decided_at=decided,
            )
        )


async def run_sign_pay(client: Any, auth: Any, month: str) -> dict[str, Any]:
    """Run the month, have the district sign it off and the clerk pay it; the run's answer."""
    officer = await auth("procurement")
    r = await client.post("/api/v1/allowances/runs", json={"month": month}, headers=officer)
    assert r.status_code == 201, r.text
    run: dict[str, Any] = r.json()
    if run["id"] is not None:
        s = await client.post(f"/api/v1/allowances/runs/{run['id']}/sign-off", json={}, headers=await auth("admin"))
        assert s.status_code == 201, s.text
        p = await client.post(f"/api/v1/allowances/runs/{run['id']}/pay", headers=officer)
        assert p.status_code == 200, p.text
    return run


def same_download(a: bytes, b: bytes) -> bool:
    """Two CSVs byte for byte; two XLSX files member for member, but for the times openpyxl stamps on each save
    (the zip entries' dates and docProps/core.xml's created/modified)."""
    import io
    import zipfile

    if a[:2] != b"PK" or b[:2] != b"PK":
        return a == b
    with zipfile.ZipFile(io.BytesIO(a)) as za, zipfile.ZipFile(io.BytesIO(b)) as zb:
        names = sorted(za.namelist())
        if names != sorted(zb.namelist()):
            return False
        return all(za.read(n) == zb.read(n) for n in names if n != "docProps/core.xml")
