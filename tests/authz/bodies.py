"""Request bodies for the matrix: valid by the operation's own schema (so a refusal is the authorization's answer,
not the decoder's), built from the OpenAPI schema with the scenario's ids, with hand-written bodies where a valid
one needs more than the schema says."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from marketplace import clock
from marketplace.guardianship import instrument
from tests.accounts.support import application
from tests.authz.scenario import Scenario
from tests.support.world import valid_code

# Field names that carry an id, and the kind of object whose id they take.
ID_FIELDS = {
    "community_id": "_community",
    "street_id": "_street",
    "organization_id": "org",
    "fund_id": "fund",
    "need_id": "need",
    "service_id": "service",
    "child_id": "child",
    "procurement_id": "procurement",
    "milestone_id": "milestone",
    "director_id": "_director",
    "budget_line_id": "_line",
    "line_id": "_line",
    "from_line_id": "_line",
    "to_line_id": "_line",
    "from_user_id": "_director",
    "to_user_id": "_director2",
}


def _resolve(schema: dict[str, Any], comps: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = comps[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def example(schema: dict[str, Any], comps: dict[str, Any], sc: Scenario, name: str = "", depth: int = 0) -> Any:
    schema = _resolve(schema, comps)
    for key in ("oneOf", "anyOf"):
        if key in schema:
            options = [s for s in schema[key] if _resolve(s, comps).get("type") != "null"]
            return example(options[0], comps, sc, name, depth) if options else None
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {k: example(v, comps, sc, k, depth + 1) for k, v in props.items() if k in schema.get("required", [])}
    if kind == "array":
        n = max(schema.get("minItems", 0), 1 if name in ("lines", "service_categories", "evidence") else 0)
        return [example(schema.get("items", {}), comps, sc, name, depth + 1) for _ in range(n)]
    if kind == "integer":
        if name in ID_FIELDS:
            return sc.ids.get(ID_FIELDS[name], 1)
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1 if "exclusiveMinimum" in schema else 1)
        return max(int(low), 100 if name.endswith("_fen") else 1)
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return True
    fmt = schema.get("format")
    today = clock.today()
    if fmt == "date" or name.endswith(("_on", "_date")) or name in ("since", "until"):
        return str(today)
    if fmt == "date-time" or name.endswith("_at"):
        return clock.now().isoformat()
    if name == "month" or name == "period":
        return f"{today:%Y-%m}"
    if name in NAMED:
        return NAMED[name]
    if name.endswith("categories") or name == "category":
        return "psych_counselling"
    length = max(int(schema.get("minLength", 1)), 4)
    return "测试说明文字" * (length // 6 + 1)


NAMED: dict[str, str] = {
    "code": "authz_code",
    "bank_code": "AUTHZ",
    "phone": "13912345678",
    "contact_phone": "13912345678",
    "username": "authz.user",
    "id_number": "440304201605010026",
    "credit_code": valid_code(950),
    "role": "child_director",
    "reference": "AUTHZ-REF-1",
}


def body_for(op: dict[str, Any], comps: dict[str, Any], sc: Scenario, label: str) -> tuple[str, Any] | None:
    """("json" | "multipart", body) for an operation, or None when it takes no body."""
    if label in HAND_WRITTEN:
        return HAND_WRITTEN[label](sc)
    rb = op.get("requestBody")
    if not rb:
        return None
    content = rb.get("content", {})
    if "multipart/form-data" in content:
        return "multipart", {"file": ("evidence.pdf", b"%PDF-1.4 authz\n%%EOF\n", "application/pdf")}
    schema = next(iter(content.values()))["schema"]
    return "json", example(schema, comps, sc)


COLUMNS = {"date": "记账时间", "amount": "发生额", "payer": "对方账户名", "reference": "业务编号"}
STATEMENT = base64.b64encode(
    f"记账时间,发生额,对方账户名,业务编号\n{clock.today():%Y%m%d},88.00,钱七,AUTHZ-1\n".encode()
).decode()


def _today() -> str:
    return str(clock.today())


HAND_WRITTEN: dict[str, Any] = {
    "POST /api/v1/children/{child_id}/safety-checks": lambda sc: (
        "json",
        {
            "prevention": "bullying",
            "items": [
                {"code": code, "answer": "done"}
                for code in ("asked_about_bullying", "trusted_adult", "school_informed", "home_violence_checked")
            ],
        },
    ),
    "POST /api/v1/children": lambda sc: (
        "json",
        {
            "community_id": sc.principals["child_director"].community_id,
            "name": "测试儿童",
            "gender": "female",
            "birth_date": "2016-05-01",
            "id_number": "440304201605010026",
            "categories": ["left_behind"],
            "guardianship": "family",
            "risk_level": "medium",
        },
    ),
    "POST /api/v1/children/{child_id}/allowance-decisions": lambda sc: (
        "json",
        {"action": "grant", "category": sc.category, "evidence": ["证明材料.pdf"]},
    ),
    "POST /api/v1/children/{child_id}/allowance-payee": lambda sc: (
        "json",
        {"kind": "guardian", "name": "李四", "bank_name": "中国银行", "account": "6217000099998888"},
    ),
    "POST /api/v1/children/{child_id}/visits": lambda sc: (
        "json",
        {"kind": "home", "visited_on": _today(), "findings": "家中整洁，孩子状态良好。"},
    ),
    "POST /api/v1/children/{child_id}/parents": lambda sc: (
        "json",
        {"relation": "father", "work_province": "广东省", "work_city": "东莞市", "frequency": "weekly"},
    ),
    "POST /api/v1/families/parents/{parent_id}": lambda sc: ("json", {"job": "货车司机"}),
    "POST /api/v1/families/parents/{parent_id}/contacts": lambda sc: (
        "json",
        {"contacted_on": _today(), "channel": "phone"},
    ),
    "POST /api/v1/families/parents/{parent_id}/visits-home": lambda sc: (
        "json",
        {"from_date": _today(), "to_date": _today()},
    ),
    "POST /api/v1/children/{child_id}/needs": lambda sc: (
        "json",
        {"category": "psych_counselling", "urgency": 2, "note": "情绪低落，需要心理疏导。"},
    ),
    "POST /api/v1/children/{child_id}/reports": lambda sc: (
        "json",
        {"kind": "lives_alone", "description": "孩子多日独自在家，无人照料。"},
    ),
    "POST /api/v1/children/{child_id}/contact": lambda sc: ("json", {"reason": "安排上门走访，需联系监护人。"}),
    "PATCH /api/v1/children/{child_id}": lambda sc: ("json", {"school": "福田区实验小学"}),
    "POST /api/v1/children/{child_id}/guardianship-assessments": lambda sc: (
        "json",
        {"answers": {i.code: i.best for i in instrument.CURRENT.items()}, "note": "入户评估，监护良好。"},
    ),
    "POST /api/v1/children/{child_id}/entrusted-guardianships": lambda sc: (
        "json",
        {"person_name": "陈秀英", "relationship": "外祖母", "contact_phone": "13800138000", "signed_on": _today()},
    ),
    "POST /api/v1/children/{child_id}/temporary-guardianships": lambda sc: (
        "json",
        {"institution": "福田区未成年人救助保护中心", "reason": "独居无人照料。", "started_on": _today()},
    ),
    "POST /api/v1/children/{child_id}/long-term-guardianships": lambda sc: (
        "json",
        {"document_no": "（2026）粤0304民特1号", "decided_on": _today(), "institution": "深圳市儿童福利院",
         "started_on": _today()},
    ),
    "POST /api/v1/guardianship/entrusted/{entrusted_id}/renew": lambda sc: ("json", {"signed_on": _today()}),
    "POST /api/v1/guardianship/entrusted/{entrusted_id}/end": lambda sc: (
        "json",
        {"ended_on": _today(), "reason": "父母返乡照料。"},
    ),
    "POST /api/v1/guardianship/temporary/{temporary_id}/end": lambda sc: (
        "json",
        {"ended_on": _today(), "outcome": "adopted"},
    ),
    "PATCH /api/v1/needs/{need_id}": lambda sc: ("json", {"urgency": 3}),
    "POST /api/v1/organization-applications": lambda sc: (
        "json",
        application(913, street_ids=[sc.principals["child_supervisor"].street_id]),
    ),
    "POST /api/v1/referrals": lambda sc: (
        "json",
        {"need_id": sc.ids["need"], "service_id": sc.ids["service"]},
    ),
    "POST /api/v1/reports/exports": lambda sc: ("json", {"kind": "coverage_all", "format": "csv"}),
    "POST /api/v1/volunteer-teams": lambda sc: (
        "json",
        {"name": "测试志愿队", "street_id": sc.principals["child_supervisor"].street_id},
    ),
    "POST /api/v1/social-workers": lambda sc: (
        "json",
        {"name": "测试社工", "organization_id": sc.principals["org_staff"].organization_id},
    ),
    "POST /api/v1/services": lambda sc: (
        "json",
        {
            "organization_id": sc.principals["org_staff"].organization_id,
            "title": "测试服务项目",
            "capacity_per_month": 5,
            "categories": ["psych_counselling"],
        },
    ),
    "POST /api/v1/matching/runs": lambda sc: ("json", {"street_id": sc.principals["child_supervisor"].street_id}),
    "POST /api/v1/mandatory-reports": lambda sc: (
        "json",
        {
            "kind": "lives_alone",
            "description": "孩子多日独自在家。",
            "child_id": sc.ids["child"],
        },
    ),
    "POST /api/v1/intakes": lambda sc: (
        "json",
        {
            "channel": "hotline_12355",
            "what": "来电称有孩子独自在公园过夜。",
            "urgency": 3,
            "community_id": sc.principals["child_director"].community_id,
            "place": "社区公园北门",
            "subject_description": "男孩，约8岁",
        },
    ),
    "POST /api/v1/intakes/{intake_id}/triage": lambda sc: ("json", {"outcome": "no_action", "reason": "重复来电"}),
    "POST /api/v1/reconciliations": lambda sc: (
        "json",
        {
            "fund_id": sc.ids["fund"],
            "source": "bank",
            "since": str(clock.today() - dt.timedelta(days=7)),
            "until": _today(),
            "file_base64": STATEMENT,
            "columns": COLUMNS,
        },
    ),
    "POST /api/v1/organizations": lambda sc: (
        "json",
        {
            "name": "测试社会组织",
            "kind": "charity",
            "credit_code": valid_code(951),
            "contact_name": "周敏",
            "contact_phone": "13912345678",
        },
    ),
    "POST /api/v1/allowances/standards": lambda sc: (
        "json",
        {"kind": "living_allowance", "amount_fen": 150_000, "effective_from": _today(), "category": "orphan"},
    ),
    "POST /api/v1/allowances/runs": lambda sc: ("json", {"month": f"{clock.today():%Y-%m}"}),
    "POST /api/v1/allowances/runs/prepare": lambda sc: ("json", {"month": f"{clock.today():%Y-%m}"}),
    "POST /api/v1/donations/offline/import": lambda sc: (
        "json",
        {"fund_id": sc.ids["fund"], "file_base64": STATEMENT, "columns": COLUMNS},
    ),
    "POST /api/v1/donations/offline/import/preview": lambda sc: (
        "json",
        {"fund_id": sc.ids["fund"], "file_base64": STATEMENT, "columns": COLUMNS},
    ),
    "POST /api/v1/auth/login": lambda sc: ("json", {"username": "nobody", "password": "wrong-password-x"}),
}
