"""What restricted money may pay for (定向资金的使用范围): one rule for disbursements and donors' designations.

A restricted gift is spent only as the donor gave it (《慈善法》第五十五条: a charity uses donated property as the
donation agreement says; changing the use needs the donor's consent, see ``donations.change_purpose``). A
disbursement pays a service project directly (``service_id``) or a referral (``referral_id``, a child's case sent
to a service; its service is the one paid). The purpose it is paid from must match what it pays:

| purpose                   | a service paid directly                              | a referral                                   |
|---------------------------|------------------------------------------------------|----------------------------------------------|
| ``unrestricted``          | any                                                  | any                                          |
| ``service:<S>``           | the service is S                                     | the referral's service is S                  |
| ``category:<c>``          | the service's categories include c                   | the need it answers is for c, and its service offers c |
| ``street:<X>``            | the service lists street X among its streets (a district-wide service serves no street in particular: it is paid from a street's money only through a referral) | the child lives in street X |
| ``group:<g>``             | the service declares child category g among those it serves | the child is in category g             |

Restricted money always pays something: a restricted disbursement that names neither a service nor a referral is
refused. When it names both, the referral's service must be the service named. A donor's designation naming
several things (a service and a category, say) is kept as the most specific purpose, and that is accepted only
when the rule above lets the named service be paid from each of the others; naming a category, a street and a child
group without a service is refused, since one gift has one purpose.

Every refusal is a 422 problem whose message says, in Chinese, what the purpose allows and what the payee is.
``funding_available`` (what matching offers as a plan's charity resource) only proposes purposes that this rule
lets pay the referral it plans.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from marketplace.errors import Conflict, Invalid
from marketplace.funds import accounts, ports
from marketplace.funds.accounts import UNRESTRICTED
from marketplace.funds.models import FundProject
from marketplace.geography.models import Street
from marketplace.resources.models import Service
from marketplace.resources.taxonomy import CHILD_CATEGORIES, SERVICE_CATEGORIES


@dataclasses.dataclass(frozen=True)
class Payee:
    """What a disbursement pays: a service, and the referral through which it pays it (if any)."""

    service_id: int
    service_title: str
    categories: frozenset[str]
    streets: frozenset[int]  # the streets the service lists; empty for a district-wide service
    child_categories: frozenset[str]
    referral: ports.ReferralFacts | None = None


def fits(purpose: str, payee: Payee | None) -> bool:
    return refusal(purpose, payee) is None


def refusal(purpose: str, payee: Payee | None, names: dict[str, str] | None = None) -> str | None:
    """None when ``purpose`` may pay ``payee``; otherwise why not (Chinese first, English in parentheses)."""
    kind, value = accounts.parse_purpose(purpose)
    if kind == UNRESTRICTED:
        return None
    label = (names or {}).get(purpose) or accounts.purpose_label(purpose)
    if kind == "project":
        # A micro-project's held money is paid only by its acceptance (funds.sources.complete_project).
        return f"“{label}”的资金只能在项目验收时支付 (a micro-project's money is paid on its acceptance)"
    if payee is None:
        return f"定向资金“{label}”须支付具体的服务项目或转介个案 (restricted money must pay a service or a referral)"
    what = f"服务项目“{payee.service_title}”"
    r = payee.referral
    if r is not None:
        what = f"转介 #{r.referral_id}（{what}）"
    if kind == "service":
        if payee.service_id == value:
            return None
        return f"定向资金“{label}”只能支付该服务项目，不能支付{what} (restricted to another service)"
    if kind == "category":
        offered = "、".join(SERVICE_CATEGORIES.get(c, c) for c in sorted(payee.categories)) or "无"
        if value not in payee.categories:
            return (
                f"定向资金“{label}”只能支付提供该类服务的项目；{what}的服务类别为 {offered} "
                f"(restricted to a service category the service does not offer)"
            )
        if r is not None and r.need_category != value:
            need = SERVICE_CATEGORIES.get(r.need_category, r.need_category)
            return (
                f"定向资金“{label}”只能支付该类需求的转介；{what}对应的需求为“{need}” "
                f"(the referral answers a need of another category)"
            )
        return None
    if kind == "street":
        if r is not None:
            if r.child_street_id == value:
                return None
            return (
                f"定向资金“{label}”只能支付居住在该街道的儿童的转介；{what}的儿童不在该街道 (the child lives elsewhere)"
            )
        if value in payee.streets:
            return None
        scope = "全区服务项目，须经该街道儿童的转介支付" if not payee.streets else "服务街道不含该街道"
        return f"定向资金“{label}”只能支付服务该街道的项目；{what}为{scope} (the service does not serve that street)"
    if kind == "group":
        if r is not None:
            if value in r.child_categories:
                return None
            return f"定向资金“{label}”只能支付该类儿童的转介；{what}的儿童不属于该类 (the child is not in that group)"
        if value in payee.child_categories:
            return None
        served = "、".join(CHILD_CATEGORIES.get(c, c) for c in sorted(payee.child_categories)) or "未声明"
        return (
            f"定向资金“{label}”只能支付面向该类儿童的项目；{what}服务的儿童类别为 {served} "
            f"(the service does not serve that child group)"
        )
    return f"用途 {purpose} 无效 (bad purpose)"  # pragma: no cover - parse_purpose knows every kind


def _payee(service: Service, facts: ports.ReferralFacts | None = None) -> Payee:
    return Payee(
        service_id=service.id,
        service_title=service.title,
        categories=frozenset(c.code for c in service.categories),
        streets=frozenset(s.street_id for s in service.streets),
        child_categories=frozenset(c.code for c in service.child_categories),
        referral=facts,
    )


async def service_payees(session: AsyncSession, service_ids: Iterable[int]) -> dict[int, Payee]:
    """The services as payees paid directly, in four reads whatever their number."""
    ids = sorted(set(service_ids))
    if not ids:
        return {}
    rows = await session.scalars(
        select(Service)
        .where(Service.id.in_(ids))
        .options(
            selectinload(Service.categories), selectinload(Service.child_categories), selectinload(Service.streets)
        )
    )
    return {s.id: _payee(s) for s in rows.all()}


async def payee(session: AsyncSession, *, service_id: int | None, referral_id: int | None) -> Payee | None:
    """What a disbursement naming these pays; 422 for a service or referral that does not exist or disagree."""
    facts: ports.ReferralFacts | None = None
    if referral_id is not None:
        facts = await ports.referral_facts(session, referral_id)
        if facts is None:
            raise Invalid.field("referral_id", f"转介 {referral_id} 不存在 (unknown referral)")
        if facts.ended_unserved:
            raise Conflict(
                f"转介 {referral_id} {facts.status_label}，未提供服务，不能为其拨付 "
                "(a declined or withdrawn referral cannot be paid)"
            )
        if service_id is not None and service_id != facts.service_id:
            raise Invalid.field(
                "service_id",
                f"转介 {referral_id} 的服务项目为 #{facts.service_id}，与所填服务项目 #{service_id} 不符 "
                "(the referral is for another service)",
            )
        service_id = facts.service_id
    if service_id is None:
        return None
    found = (await service_payees(session, [service_id])).get(service_id)
    if found is None:
        raise Invalid.field("service_id", f"服务项目 {service_id} 不存在 (unknown service)")
    return dataclasses.replace(found, referral=facts)


async def check(session: AsyncSession, purpose: str, payee: Payee | None, *, field: str = "purpose") -> None:
    why = refusal(purpose, payee, await labels(session, [purpose]))
    if why is not None:
        raise Invalid.field(field, why)


async def designation_conflicts(
    session: AsyncSession,
    *,
    category: str | None,
    street_id: int | None,
    service_id: int | None,
    child_category: str | None,
) -> None:
    """One gift, one purpose: several terms are accepted only as a service that each of the others may pay."""
    others = [
        p
        for p in (
            f"category:{category}" if category is not None else None,
            f"street:{street_id}" if street_id is not None else None,
            f"group:{child_category}" if child_category is not None else None,
        )
        if p is not None
    ]
    if service_id is None:
        if len(others) > 1:
            raise Invalid.field(
                "designation",
                "一笔捐赠只能有一种定向：请在服务类别、街道、儿童群体中选择一项，或指定一个服务项目 "
                "(one purpose per gift: name one of category, street, child group, or a service)",
            )
        return
    target = await payee(session, service_id=service_id, referral_id=None)
    for purpose in others:
        accounts.parse_purpose(purpose, "designation")
        why = refusal(purpose, target, await labels(session, [purpose]))
        if why is not None:
            raise Invalid.field("designation", f"所指定的服务项目与定向不符：{why}")


async def labels(session: AsyncSession, purposes: Iterable[str]) -> dict[str, str]:
    """Each purpose's label with names, not numbers: the street's name, the service's title, the category's and
    the child group's Chinese labels (two reads, whatever the number of purposes)."""
    wanted = sorted(set(purposes))
    streets: set[int] = set()
    services: set[int] = set()
    projects: set[int] = set()
    for p in wanted:
        kind, _, value = p.partition(":")
        if kind == "street" and value.isdigit() and len(value) < 12:
            streets.add(int(value))
        elif kind == "service" and value.isdigit() and len(value) < 12:
            services.add(int(value))
        elif kind == "project" and value.isdigit() and len(value) < 12:
            projects.add(int(value))
    # The reads run whatever the purposes are, so a page of a list costs the same statements for 1 row as for 50.
    rows = await session.execute(select(Street.id, Street.name).where(Street.id.in_(sorted(streets))))
    street_names = {int(i): str(n) for i, n in rows.all()}
    rows = await session.execute(select(Service.id, Service.title).where(Service.id.in_(sorted(services))))
    service_names = {int(i): str(n) for i, n in rows.all()}
    project_names: dict[int, str] = {}
    if projects:  # only a micro-project fund's purposes name projects (the public-welfare fund's lists never do)
        rows = await session.execute(
            select(FundProject.id, FundProject.title).where(FundProject.id.in_(sorted(projects)))
        )
        project_names = {int(i): str(n) for i, n in rows.all()}
    out: dict[str, str] = {}
    for p in wanted:
        kind, _, value = p.partition(":")
        if kind == "street" and value.isdigit() and int(value) in street_names:
            out[p] = f"定向：{street_names[int(value)]}"
        elif kind == "service" and value.isdigit() and int(value) in service_names:
            out[p] = f"定向：{service_names[int(value)]}"
        elif kind == "project" and value.isdigit() and int(value) in project_names:
            out[p] = f"项目：{project_names[int(value)]}"
        else:
            out[p] = accounts.purpose_label(p)
    return out
