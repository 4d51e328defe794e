from __future__ import annotations

import re
from collections import Counter
from datetime import date

from marketplace.demo import futian_data as fd
from marketplace.resources import credit_code
from marketplace.resources.taxonomy import (
    CHILD_CATEGORIES,
    DELIVERY_MODES,
    FIVE_SOCIETIES,
    FUNDING_SOURCES,
    ORGANIZATION_KINDS,
    ORGANIZATION_STATUSES,
    SERVICE_CATEGORIES,
    SERVICE_STATUSES,
)

STREET_ORDER = ["园岭", "南园", "福田", "沙头", "香蜜湖", "梅林", "莲花", "华富", "福保", "华强北"]
STREET_CODES = {s.code for s in fd.STREETS}


def test_ten_streets_in_order() -> None:
    assert [s.name for s in fd.STREETS] == [f"{n}街道" for n in STREET_ORDER]
    assert len({s.code for s in fd.STREETS}) == 10
    assert all(re.fullmatch(r"[a-z]+", s.code) for s in fd.STREETS)
    assert all(s.division_code.startswith("440304") and len(s.division_code) == 9 for s in fd.STREETS)


def test_ninety_two_communities() -> None:
    assert len(fd.COMMUNITIES) == 92
    assert len({c.code for c in fd.COMMUNITIES}) == 92
    assert len({c.division_code for c in fd.COMMUNITIES}) == 92
    assert all(c.street_code in STREET_CODES for c in fd.COMMUNITIES)
    assert all(c.name.endswith("社区") for c in fd.COMMUNITIES)
    per_street = Counter(c.street_code for c in fd.COMMUNITIES)
    assert set(per_street) == STREET_CODES
    futian = {c.name for c in fd.communities_of("futian")}
    assert {"福山社区", "岗厦社区", "皇岗社区", "水围社区"} <= futian
    assert {"华航社区", "荔村社区", "通新岭社区"} <= {c.name for c in fd.communities_of("huaqiangbei")}


def test_users() -> None:
    names = [u.username for u in fd.USERS]
    assert len(names) == len(set(names))
    assert all(u.password == fd.DEMO_PASSWORD == "demo-password" for u in fd.USERS)
    by = fd.USER_BY_USERNAME
    expected = {
        "admin": "district_admin",
        "supervisor": "child_supervisor",
        "director": "child_director",
        "org": "org_staff",
        "fund": "fund_manager",
        "procurement": "procurement_officer",
        "auditor": "auditor",
    }
    for username, role in expected.items():
        assert by[username].role == role
    assert by["supervisor"].street_code == "futian"
    director = by["director"]
    assert director.community_code is not None
    assert fd.COMMUNITY_BY_CODE[director.community_code].street_code == "futian"
    assert director.street_code == "futian"
    assert by["org"].organization_index == 0

    supervisors = [u for u in fd.USERS if u.role == "child_supervisor"]
    assert len(supervisors) == 10
    assert {u.street_code for u in supervisors} == STREET_CODES
    assert sum(u.username.startswith("sup-") for u in supervisors) == 9

    directors = [u for u in fd.USERS if u.role == "child_director"]
    assert len(directors) == 92
    assert {u.community_code for u in directors} == {c.code for c in fd.COMMUNITIES}
    for u in directors:
        assert u.username == "director" or u.username == f"dir-{u.community_code}"
        assert u.community_code is not None
        assert fd.COMMUNITY_BY_CODE[u.community_code].street_code == u.street_code

    for org in fd.ORGANIZATIONS:
        staff = by[f"org-{org.index + 1}"]
        assert staff.role == "org_staff"
        assert staff.organization_index == org.index
    assert all(u.display_name for u in fd.USERS)
    assert all(re.fullmatch(r"1380000\d{4}", u.phone) for u in fd.USERS)


def test_organizations() -> None:
    orgs = fd.ORGANIZATIONS
    assert len(orgs) >= 32
    assert [o.index for o in orgs] == list(range(len(orgs)))
    assert {o.kind for o in orgs} == set(ORGANIZATION_KINDS)
    kinds = Counter(o.kind for o in orgs)
    assert kinds["social_work_agency"] + kinds["charity"] > len(orgs) // 2
    assert len({o.name for o in orgs}) == len(orgs)
    assert len({o.credit_code for o in orgs}) == len(orgs)
    for o in orgs:
        assert credit_code.validate(o.credit_code) is None, (o.name, o.credit_code)
        assert o.credit_code[2:8] == "440304"
        assert o.status in ORGANIZATION_STATUSES
        assert set(o.street_codes) <= STREET_CODES
        assert re.fullmatch(r"1380000\d{4}", o.contact_phone)
        assert o.description and o.contact_name and o.address
    assert orgs[0].status == "approved"
    civil = [o for o in orgs if o.kind in ("social_work_agency", "charity", "volunteer_org")]
    assert all(o.credit_code[0] == "5" for o in civil)
    assert all(o.credit_code[:2] == "91" for o in orgs if o.kind == "enterprise")
    assert all(o.credit_code[:2] == "12" for o in orgs if o.kind == "public_institution")


def test_services() -> None:
    services = fd.SERVICES
    assert len(services) >= 80
    assert len({s.title for s in services}) == len(services)
    coverage = Counter(c for s in services for c in s.categories)
    for code in SERVICE_CATEGORIES:
        assert coverage[code] >= 2, code
    published = Counter(c for s in services if s.status == "published" for c in s.categories)
    assert all(published[code] >= 1 for code in SERVICE_CATEGORIES)
    statuses = Counter(s.status for s in services)
    assert statuses["published"] > len(services) * 0.8
    assert {"draft", "pending_review", "paused"} <= set(statuses)
    assert sum(s.assured_days_ago > 180 for s in services) >= 3
    for s in services:
        assert 0 <= s.organization_index < len(fd.ORGANIZATIONS)
        assert 1 <= len(s.categories) <= 3
        assert set(s.categories) <= set(SERVICE_CATEGORIES)
        assert s.child_categories and set(s.child_categories) <= set(CHILD_CATEGORIES)
        assert 0 <= s.age_min <= s.age_max <= 18
        assert set(s.street_codes) <= STREET_CODES
        assert 3 <= s.capacity_per_month <= 60
        assert s.cost_per_case_fen == 0 or 20_000 <= s.cost_per_case_fen <= 300_000
        assert s.delivery_mode in DELIVERY_MODES
        assert s.funding_source in FUNDING_SOURCES
        assert s.status in SERVICE_STATUSES
        assert set(s.five_societies) <= set(FIVE_SOCIETIES) and s.five_societies
        assert s.title and s.description and s.eligibility and s.schedule and s.fees_text
        assert s.wait_time_days >= 0
        assert s.assured_on <= fd.REFERENCE_DATE
        if ORGANIZATION_STATUSES and fd.ORGANIZATIONS[s.organization_index].status != "approved":
            assert s.status != "published"
    assert any(s.cost_per_case_fen == 0 for s in services)
    assert any(not s.street_codes for s in services)
    assert any(s.organization_index == 0 for s in services)


def test_social_workers_and_volunteer_teams() -> None:
    assert 50 <= len(fd.SOCIAL_WORKERS) <= 70
    for w in fd.SOCIAL_WORKERS:
        assert fd.ORGANIZATIONS[w.organization_index].kind == "social_work_agency"
        assert w.qualification in fd.QUALIFICATIONS
        assert w.specialties and set(w.specialties) <= set(SERVICE_CATEGORIES)
        assert w.street_codes and set(w.street_codes) <= STREET_CODES
    teams = fd.VOLUNTEER_TEAMS
    per_street = Counter(t.street_code for t in teams)
    assert set(per_street) == STREET_CODES
    assert all(1 <= n <= 2 for n in per_street.values())
    assert len({t.name for t in teams}) == len(teams)
    for t in teams:
        assert fd.COMMUNITY_BY_CODE[t.community_code].street_code == t.street_code
        assert t.member_count > 0 and set(t.skills) <= set(SERVICE_CATEGORIES)


def test_budget_lines_sum_to_special_budget() -> None:
    assert sum(line.amount_fen for line in fd.BUDGET_2026) == 380_000_000 == fd.SPECIAL_BUDGET_FEN
    assert len({line.code for line in fd.BUDGET_2026}) == len(fd.BUDGET_2026)
    names = {line.name for line in fd.BUDGET_2026}
    assert {"儿童主任岗位补贴", "活动资金", "购买服务", "培训", "生活补贴", "节日慰问"} == names
    assert all(line.amount_fen > 0 for line in fd.BUDGET_2026)


def test_donations_sum_to_fund_raised() -> None:
    assert sum(d.amount_fen for d in fd.DONATIONS) == 30_000_000 == fd.FUND_RAISED_FEN
    assert {d.channel for d in fd.DONATIONS} == {"stripe", "bank_transfer", "cash", "in_kind"}
    assert any(d.restricted_category for d in fd.DONATIONS)
    assert any(d.restricted_street for d in fd.DONATIONS)
    assert any(not d.restricted for d in fd.DONATIONS)
    assert {d.kind for d in fd.DONORS} == {"enterprise", "individual"}
    assert any(not d.consent_to_name for d in fd.DONORS)
    for d in fd.DONATIONS:
        assert d.amount_fen > 0
        assert 0 <= d.donor_index < len(fd.DONORS)
        assert d.restricted_category is None or d.restricted_category in SERVICE_CATEGORIES
        assert d.restricted_street is None or d.restricted_street in STREET_CODES
        assert (fd.REFERENCE_DATE - d.donated_on).days == d.days_ago
    for donor in fd.DONORS:
        if donor.credit_code is not None:
            assert credit_code.is_valid(donor.credit_code)


def _age(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def test_children_deterministic_and_ids_valid() -> None:
    kids = list(fd.children())
    assert len(kids) == 400
    assert kids == list(fd.children())
    assert list(fd.children(rng_seed=1, n=20)) != kids[:20]
    assert len(list(fd.children(n=25))) == 25
    assert len({k.id_number for k in kids}) == 400
    assert len({k.ref for k in kids}) == 400
    for k in kids:
        assert k.community_code in fd.COMMUNITY_BY_CODE
        assert fd.COMMUNITY_BY_CODE[k.community_code].street_code == k.street_code
        n = k.id_number
        assert re.fullmatch(r"\d{17}[\dX]", n)
        assert fd.is_valid_resident_id(n)
        assert n[:6] == "440304"
        assert n[6:14] == k.birth_date.strftime("%Y%m%d")
        assert n[14:16] == "99"
        assert (int(n[16]) % 2 == 1) == (k.gender == "male")
        for on in (date(2026, 1, 1), fd.REFERENCE_DATE, date(2026, 12, 31)):
            if k.birth_date <= on:
                assert 0 <= _age(k.birth_date, on) <= 17
        assert k.birth_date <= fd.REFERENCE_DATE
        assert 1 <= len(k.categories) <= 3 and set(k.categories) <= set(CHILD_CATEGORIES)
        assert k.guardianship in fd.GUARDIANSHIP_KINDS
        assert k.risk_level in fd.RISK_LEVELS
        assert 0 <= len(k.needs) <= 3
        for need in k.needs:
            assert need.category in SERVICE_CATEGORIES
            assert 1 <= need.urgency <= 4
            assert need.note
        for v in k.visits:
            assert v.kind in fd.VISIT_KINDS
            assert k.birth_date <= v.visited_on < fd.REFERENCE_DATE
            assert (fd.REFERENCE_DATE - v.visited_on).days == v.days_ago <= 365
            assert v.findings
        assert [v.visited_on for v in k.visits] == sorted(v.visited_on for v in k.visits)
        assert re.fullmatch(r"1390000\d{4}", k.guardian_phone)


def test_children_distribution_is_realistic() -> None:
    kids = list(fd.children())
    cats = Counter(c for k in kids for c in k.categories)
    assert cats["economic_hardship"] > cats["orphan"] * 5
    assert cats["left_behind"] > cats["orphan"] * 3
    risk = Counter(k.risk_level for k in kids)
    assert risk["low"] + risk["medium"] > len(kids) * 0.7
    assert risk["critical"] >= 1
    assert set(Counter(k.guardianship for k in kids)) == set(fd.GUARDIANSHIP_KINDS)
    assert sum(k.consent_to_share for k in kids) > len(kids) // 2
    per_community = Counter(k.community_code for k in kids)
    assert set(per_community) == {c.code for c in fd.COMMUNITIES}
    assert per_community[fd.DEMO_DIRECTOR_COMMUNITY] >= 10


def test_resident_id_helpers() -> None:
    # GB 11643 standard example: 11010519491231002X.
    assert fd.id_check_digit("11010519491231002") == "X"
    assert fd.is_valid_resident_id("11010519491231002X")
    assert not fd.is_valid_resident_id("110105194912310021")
    number = fd.resident_id(date(2015, 6, 1), 3)
    assert number.startswith("44030420150601993") and fd.is_valid_resident_id(number)
