"""The mandatory report board: who sees which reports, an overdue acknowledgement highlighted, and the street's
supervisor and the district acknowledging from the console (CSRF-checked form posts); reading it is audited."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import func, select

from marketplace import clock
from marketplace.audit.models import AuditEntry
from marketplace.cases.models import MandatoryReport
from tests.admin.console import console_login, csrf_of
from tests.cases.support import add_child


async def seed(db: Any, world: Any, settings: Any) -> dict[str, int]:
    """In 福山 (福田街道): an unidentified child's report made 3 hours ago (the supervisor's 2 hours are up) and a
    linked one made just now with the police receipt recorded; in 百花 (园岭街道): one more."""
    now = clock.now()
    s1, s2 = world.streets
    c1, _, c3 = world.communities
    async with db.session() as s:
        child = await add_child(s, settings, c1, s1, name="张小明", seq="991")

        def report(community: int, street: int, made: dt.datetime, **kw: Any) -> MandatoryReport:
            return MandatoryReport(
                community_id=community,
                street_id=street,
                kind="lives_alone",
                description="独自在家",
                status="open",
                reporter_role="child_director",
                created_at=made,
                supervisor_ack_due_at=made + dt.timedelta(hours=2),
                district_ack_due_at=made + dt.timedelta(hours=12),
                **kw,
            )

        late = report(c1, s1, now - dt.timedelta(hours=3), subject_name="小军", place="福山社区菜市场东门")
        linked = report(
            c1,
            s1,
            now,
            child_id=child.id,
            police_notified=True,
            police_notified_at=now - dt.timedelta(minutes=5),
            police_station="福田派出所",
            police_receipt_no="FT-0921",
        )
        other = report(c3, s2, now, subject_description="女孩，约6岁", place="百花公园")
        s.add_all([late, linked, other])
        await s.flush()
        return {"late": late.id, "linked": linked.id, "other": other.id, "child": child.id}


def row(html: str, report_id: int) -> str:
    found = re.search(rf'<tr id="mandatory-report-{report_id}"[^>]*>.*?</tr>', html, re.S)
    assert found, f"report {report_id} not on the page"
    return found.group(0)


async def test_board_lists_in_scope_and_the_supervisor_and_district_acknowledge(client, world, db, settings) -> None:
    ids = await seed(db, world, settings)
    await console_login(client, "supervisor")
    home = await client.get("/admin/")
    assert 'href="/admin/mandatory-reports"' in home.text
    page = await client.get("/admin/mandatory-reports")
    assert page.status_code == 200, page.text
    assert "本街道强制报告" in page.text
    late = row(page.text, ids["late"])
    assert 'class="overdue"' in late and "超时未签收" in late and "小军" in late and "未登记报警" in late
    linked = row(page.text, ids["linked"])
    assert 'class="overdue"' not in linked and "张小明" in linked and "FT-0921" in linked
    assert f'mandatory-report-{ids["other"]}"' not in page.text  # another street's
    assert "签收</button>" in late

    # Reading the board is a read of children's data.
    async with db.session(write=False) as s:
        audited = await s.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.entity == "mandatory_report", AuditEntry.action == "list")
        )
        child_rows = await s.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.entity == "child", AuditEntry.entity_id == ids["child"])
        )
    assert audited == 2 and child_rows == 1

    # Without the page's CSRF token the post is refused and nothing changes.
    r = await client.post(f"/admin/mandatory-reports/{ids['late']}/acknowledge", data={}, follow_redirects=False)
    assert r.status_code == 403
    r = await client.post(
        f"/admin/mandatory-reports/{ids['late']}/acknowledge",
        data={"_csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/admin/mandatory-reports"
    page = await client.get("/admin/mandatory-reports")
    late = row(page.text, ids["late"])
    assert "超时签收" in late and "签收</button>" not in late
    # Acknowledging twice is refused.
    r = await client.post(
        f"/admin/mandatory-reports/{ids['late']}/acknowledge",
        data={"_csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 409

    # The district sees every street's reports and acknowledges at its own level.
    await console_login(client, "admin")
    page = await client.get("/admin/mandatory-reports")
    assert all(f'mandatory-report-{ids[k]}"' in page.text for k in ("late", "linked", "other"))
    r = await client.post(
        f"/admin/mandatory-reports/{ids['late']}/acknowledge",
        data={"_csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    async with db.session(write=False) as s:
        report = await s.get(MandatoryReport, ids["late"])
        assert report is not None and report.status == "acknowledged"
        assert report.supervisor_ack_by == world.users["supervisor"] and report.district_ack_by == world.users["admin"]
    page = await client.get("/admin/mandatory-reports", params={"status": "acknowledged"})
    assert f'mandatory-report-{ids["late"]}"' in page.text and f'mandatory-report-{ids["other"]}"' not in page.text


async def test_who_may_open_the_board(client, world, db, settings) -> None:
    ids = await seed(db, world, settings)
    await console_login(client, "director")
    page = await client.get("/admin/mandatory-reports")
    assert page.status_code == 200 and "本社区强制报告" in page.text
    assert f'mandatory-report-{ids["late"]}"' in page.text and "签收</button>" not in page.text
    await console_login(client, "director3")
    page = await client.get("/admin/mandatory-reports")
    assert [f'mandatory-report-{ids[k]}"' in page.text for k in ("late", "linked", "other")] == [False, False, True]
    await console_login(client, "auditor")
    page = await client.get("/admin/mandatory-reports")
    assert page.status_code == 200 and "签收</button>" not in page.text
    for who in ("org", "fund"):
        await console_login(client, who)
        assert "/admin/mandatory-reports" not in (await client.get("/admin/")).text
        assert (await client.get("/admin/mandatory-reports")).status_code == 403
