"""Field allow-lists (issue #17): every read of child or person data, as every role that may make it, returns only
the keys that role's allow-list names (tests/authz/allowlists.py), recursively; and the values of masked fields
wear their masks (marketplace/masking.py is the policy): no identity-number digits where the birth date is shown
(the last 4 only where it is not), guardians' phones masked, guardians' names masked for the district, social
workers' and donors' contact details kept to those who may have them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from marketplace.auth.principal import Principal
from tests.authz.allowlists import ALLOWED, PERSON_READS
from tests.authz.conftest import District
from tests.authz.scenario import ROLES
from tests.support import figures

pytestmark = pytest.mark.asyncio(loop_scope="package")

SUITE = "Field allow-lists"
FILE_KEEPERS = frozenset({"child_director", "child_supervisor"})
DISTRICT = frozenset({"district_admin", "auditor"})

MASKED_PHONE = re.compile(r"^(\d{3}\*+\d{4}|\d\*+|)$")
LAST4_ONLY = re.compile(r"^\*+[0-9Xx]{4}$")
NO_DIGITS = re.compile(r"^\**$")
SURNAME_ONLY = re.compile(r"^.?\**$")
MOBILE = re.compile(r"1[3-9]\d{9}")


def walk(value: Any, path: str = "") -> Iterator[tuple[str, str, Any]]:
    """(path, key, value) for every key of every object inside ``value`` (list positions as [])."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield f"{path}.{k}", k, v
            yield from walk(v, f"{path}.{k}")
    elif isinstance(value, list):
        for v in value:
            yield from walk(v, f"{path}[]")


def leaks_of(role: str, label: str, key: str, value: Any) -> str | None:
    """Why ``value`` of ``key`` must not reach ``role`` (None when it may)."""
    text = value if isinstance(value, str) else ""
    if key in ("id_number", "password_hash", "token", "access_token", "secret", "account", "activation_code"):
        return "never sent"
    if key in ("id_number_masked", "masked_id_number"):
        if role in FILE_KEEPERS and not NO_DIGITS.match(text):
            return "identity-number digits beside the birth date"
        if role not in FILE_KEEPERS and text and not LAST4_ONLY.match(text):
            return "more than the last 4 digits"
    if key == "id_number_full" and value is not None and role != "district_admin":
        return "a whole identity number outside the district admin's single read"
    if key == "birth_date" and value is not None and role not in FILE_KEEPERS:
        return "birth date to a role that sees the identity number's last 4"
    if key in ("guardian_phone", "guardian_phone_masked") and text and not MASKED_PHONE.match(text):
        return "guardian's phone unmasked"
    if key == "guardian_name" and text and role in DISTRICT and not SURNAME_ONLY.match(text):
        return "guardian's name in full to the district"
    if key == "guardian_name" and text and role not in FILE_KEEPERS | DISTRICT:
        return "guardian's name to a role that reads no file"
    if key == "account_last4" and text and not re.fullmatch(r"\d{0,4}", text):
        return "more than the account's last 4 digits"
    if isinstance(value, str) and MOBILE.search(value) and key not in ("contact_phone",) and "public" in label:
        return "a mobile number in a public answer"
    return None


def worker_contacts(p: Principal, workers: list[dict[str, Any]]) -> list[str]:
    """A social worker's own number: for the district's roles and the worker's organization only (issue #17)."""
    out = []
    for w in workers:
        mine = p.role == "org_staff" and w["organization_id"] == p.organization_id
        if not (p.is_district or mine) and (
            w["phone"] or (MOBILE.search(w.get("contact_channel", "") or "") and w["contact_channel"] == w.get("phone"))
        ):
            out.append(f"social worker {w['id']} as {p.role}: phone {w['phone']!r}")
    return out


def team_contacts(p: Principal, teams: list[dict[str, Any]]) -> list[str]:
    """A volunteer team's contact mobile: for the district's roles and the team's own organization only."""
    out = []
    for t in teams:
        mine = p.role == "org_staff" and t["organization_id"] is not None and t["organization_id"] == p.organization_id
        if not (p.is_district or mine) and t["contact_phone"]:
            out.append(f"volunteer team {t['id']} as {p.role}: contact phone {t['contact_phone']!r}")
    return out


async def test_person_data_fields_per_role(district: District) -> None:
    sc = district.scenario
    client = district.client
    responses = fields = 0
    leaks: list[str] = []
    unlisted: dict[str, set[str]] = {}
    for label, (path, readers) in PERSON_READS.items():
        for role in ROLES if readers is None else readers:
            for kind_path in path(sc, role):
                r = await client.get(kind_path, headers=sc.headers[role])
                assert r.status_code == 200, f"{label} as {role}: {r.status_code} {r.text[:200]}"
                responses += 1
                if label == "social workers":
                    leaks += worker_contacts(sc.principals[role], r.json()["items"])
                if label == "volunteer teams":
                    teams = r.json()["items"]
                    leaks += team_contacts(sc.principals[role], teams)
                    # The check has numbers to hide: the district sees the contacts' mobiles.
                    assert not sc.principals[role].is_district or any(t["contact_phone"] for t in teams), label
                allowed = ALLOWED[role]
                for where, key, value in walk(r.json()):
                    fields += 1
                    why = leaks_of(role, label, key, value)
                    if why:
                        leaks.append(f"{label} as {role}: {where} = {value!r}: {why}")
                    if key not in allowed:
                        unlisted.setdefault(role, set()).add(f"{label}: {where}")
    figures.record(SUITE, "responses checked", responses)
    figures.record(SUITE, "fields checked", fields)
    figures.record(SUITE, "leaks", len(leaks) + sum(len(v) for v in unlisted.values()))
    assert not leaks, "\n".join(leaks[:50])
    assert not unlisted, "keys outside the role's allow-list:\n" + "\n".join(
        f"{role}: {sorted(keys)[:40]}" for role, keys in unlisted.items()
    )
