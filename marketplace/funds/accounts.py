"""How the fund's money maps onto ledger accounts, and what a purpose (定向用途) is.

Per fund ``F``:
- ``fund:F:cash`` (asset, debit): money held, whether at the bank, with Stripe or as cash;
- ``fund:F:in_kind`` (asset, debit): goods given in kind, at their agreed value;
- ``fund:F:income:<purpose>`` (credit): gifts received for a purpose, less refunds and consented transfers;
- ``fund:F:spend:<purpose>`` (debit): disbursements made from a purpose;
- ``fund:F:fees`` (debit): payment-provider fees, borne by the unrestricted purpose.

A purpose is ``unrestricted`` or ``category:<service category>``, ``street:<street id>``, ``service:<service id>``,
``group:<child category>`` (a child group, 儿童群体), or ``project:<project id>``: a micro-project's (民生微实事项目)
money, moved out of its fund's unrestricted purpose when the project is approved (立项: the hold) and paid on its
acceptance (验收), what it did not spend going back (``funds.sources``). What each restricted purpose may pay is ``funds.purposes``' rule.
What a purpose has left is its income less its spending (less the fees, for the unrestricted purpose).
"""

from __future__ import annotations

from marketplace.errors import Invalid
from marketplace.resources.taxonomy import CHILD_CATEGORIES, SERVICE_CATEGORIES

UNRESTRICTED = "unrestricted"
PURPOSE_KINDS = ("category", "street", "service", "group", "project")


def cash(fund_id: int) -> str:
    return f"fund:{fund_id}:cash"


def in_kind(fund_id: int) -> str:
    return f"fund:{fund_id}:in_kind"


def fees(fund_id: int) -> str:
    return f"fund:{fund_id}:fees"


def income(fund_id: int, purpose: str) -> str:
    return f"fund:{fund_id}:income:{purpose}"


def spend(fund_id: int, purpose: str) -> str:
    return f"fund:{fund_id}:spend:{purpose}"


def prefix(fund_id: int) -> str:
    return f"fund:{fund_id}:"


def purpose_for(
    category: str | None, street_id: int | None, service_id: int | None, child_category: str | None = None
) -> str:
    """The one purpose a designation names; the most specific wins when a donor names several (the donation's
    designation then checks that the service named fits the rest, ``funds.purposes.designation_conflicts``)."""
    if service_id is not None:
        return f"service:{service_id}"
    if category is not None:
        return f"category:{category}"
    if street_id is not None:
        return f"street:{street_id}"
    if child_category is not None:
        return f"group:{child_category}"
    return UNRESTRICTED


def parse_purpose(purpose: str, field: str = "purpose") -> tuple[str, str | int | None]:
    if purpose == UNRESTRICTED:
        return UNRESTRICTED, None
    kind, _, value = purpose.partition(":")
    if kind == "category" and value in SERVICE_CATEGORIES:
        return kind, value
    if kind == "group" and value in CHILD_CATEGORIES:
        return kind, value
    if kind in ("street", "service", "project") and value.isdigit() and int(value) > 0 and len(value) < 12:
        return kind, int(value)
    raise Invalid.field(
        field,
        f"用途 '{purpose}' 无效：应为 unrestricted、category:<服务类别>、street:<街道id>、service:<服务id> "
        "或 group:<儿童类别> (bad purpose)",
    )


def purpose_label(purpose: str) -> str:
    """The label without a database: streets and services by number (``funds.purposes.labels`` names them)."""
    if purpose == UNRESTRICTED:
        return "非定向"
    kind, _, value = purpose.partition(":")
    if kind == "category":
        return f"定向：{SERVICE_CATEGORIES.get(value, value)}"
    if kind == "street":
        return f"定向：街道 #{value}"
    if kind == "service":
        return f"定向：服务项目 #{value}"
    if kind == "group":
        return f"定向：{CHILD_CATEGORIES.get(value, value)}"
    if kind == "project":
        return f"项目：民生微实事项目 #{value}"
    return purpose


def split_balances(fund_id: int, rows: dict[str, int]) -> dict[str, dict[str, int]]:
    """Income, spending and what is left per purpose, from the fund's account balances."""
    p = prefix(fund_id)
    out: dict[str, dict[str, int]] = {}
    for code, total in rows.items():
        rest = code.removeprefix(p)
        kind, _, purpose = rest.partition(":")
        if kind not in ("income", "spend") or not purpose:
            continue
        slot = out.setdefault(purpose, {"income_fen": 0, "spent_fen": 0, "available_fen": 0})
        if kind == "income":
            slot["income_fen"] += -total
        else:
            slot["spent_fen"] += total
    fee_total = rows.get(fees(fund_id), 0)
    for purpose, slot in out.items():
        slot["available_fen"] = slot["income_fen"] - slot["spent_fen"] - (fee_total if purpose == UNRESTRICTED else 0)
    if fee_total and UNRESTRICTED not in out:
        out[UNRESTRICTED] = {"income_fen": 0, "spent_fen": 0, "available_fen": -fee_total}
    return out
