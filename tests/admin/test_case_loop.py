"""The case board's child entry shows the child's closed loop: the six Yuzhong stages and every event by stage."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from marketplace.audit.models import AuditEntry
from marketplace.cases.taxonomy import LOOP_STAGES
from marketplace.referrals import demo_loop
from marketplace.resources.models import Service, ServiceCategory, ServiceChildCategory
from tests.admin.console import console_login
from tests.cases.support import Cases, cases

__all__ = ["cases"]


async def loop_child(db: Any, world: Any, settings: Any) -> int:
    """The Yuzhong demo child, loaded into the test world (福山社区 of 福田街道 is the world's first community)."""
    async with db.session() as s:
        svc = Service(
            organization_id=world.orgs[0],
            title="监护能力评估服务",
            description="监护评估",
            capacity_per_month=5,
            cost_per_case_fen=0,
            status="published",
            district_wide=True,
            categories=[ServiceCategory(code="guardianship_assessment")],
            child_categories=[ServiceChildCategory(code="guardianship_lacking")],
            streets=[],
        )
        s.add(svc)
        await s.flush()
        ctx = {
            "settings": settings,
            "communities": {"fushan": world.communities[0]},
            "streets": {"futian": world.streets[0]},
            "users": world.users,
            "services": [*world.services, svc.id],
        }
        child_id = await demo_loop.load(s, ctx)
    assert child_id is not None
    return child_id


def chips(html: str) -> dict[str, bool]:
    found = re.findall(r'<li class="stage-chip( reached)?" data-stage="([a-z]+)">', html)
    return {code: bool(reached) for reached, code in found}


async def test_case_entry_shows_the_six_stages_of_the_yuzhong_child(client, world, db, settings) -> None:
    child_id = await loop_child(db, world, settings)
    await console_login(client, "director")
    page = await client.get(f"/admin/cases?child={child_id}")
    assert page.status_code == 200, page.text
    html = page.text
    assert demo_loop.CHILD_NAME in html
    assert chips(html) == {code: True for code in LOOP_STAGES}
    for label in LOOP_STAGES.values():
        assert label in html
    events = re.findall(r'<li class="event stage-([a-z]+)">', html)
    assert set(events) == set(LOOP_STAGES) and len(events) > 12
    assert "福田派出所" in html and "主任认定：需求已满足" in html and "监护方式变更" in html
    assert "转介记录" in html  # the entry keeps its referrals
    async with db.session(write=False) as s:
        rows = (
            await s.scalars(
                select(AuditEntry).where(
                    AuditEntry.entity == "child", AuditEntry.entity_id == child_id, AuditEntry.action == "read"
                )
            )
        ).all()
    assert [a.username for a in rows if a.fields == ["timeline"]] == ["director"]


async def test_a_child_with_little_history_shows_unreached_stages(client, world, db, cases: Cases) -> None:
    await console_login(client, "director")
    html = (await client.get(f"/admin/cases?child={cases.children['A']}")).text
    shown = chips(html)
    assert list(shown) == list(LOOP_STAGES)
    assert shown["assistance"] and not shown["report"] and not shown["intervention"]
    other = await client.get(f"/admin/cases?child={cases.children['C']}")
    assert other.status_code == 404
