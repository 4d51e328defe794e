"""No child's identity ever leaves in an email or an SMS: every template's placeholders are in the allow-list, and
every template rendered over every notification of the demo says no child's name, address, identity number,
school, guardian's name or the in-app title and body."""

from __future__ import annotations

import re

from sqlalchemy import select

from marketplace import tasks
from marketplace.cases.crypto import field_cipher
from marketplace.cases.models import Child, Notification
from marketplace.db import Database
from marketplace.features import load_jobs
from marketplace.messaging import templates
from marketplace.settings import Settings
from tests.support import figures

SUITE = "messaging templates"
URL = "https://care.futian.example"


def test_every_placeholder_is_allowed() -> None:
    every = [*templates.TEMPLATES.values(), *templates.PREFIXES.values(), templates.DEFAULT]
    for t in every:
        assert templates.placeholders(t.subject) | templates.placeholders(t.body) <= templates.PLACEHOLDERS, t
        assert t.group in templates.GROUPS and t.sms_code in templates.SMS_TEMPLATES.values()
        assert t.path.startswith("/admin/")
    # The SMS parameters are the allow-list's too.
    rendered = templates.render("escalation_visit", {"level": 2, "count": 4, "child_ids": [1, 2]}, URL)
    assert set(rendered.params) <= templates.PLACEHOLDERS


def test_kinds_of_today_and_of_the_other_streams_have_templates() -> None:
    for kind in (
        "safety_warning",
        "intake_routed",
        "conference_decision_due",
        "guardianship_review_due",
        "families_contact_lost",
    ):
        assert templates.template_for(kind) is not templates.DEFAULT, kind
    # every kind a feature declares (its taxonomy's NOTIFICATION_KINDS) has its wording
    from marketplace.features import feature_modules

    declared = {k for m in feature_modules("taxonomy") for k in getattr(m, "NOTIFICATION_KINDS", {})}
    assert {"workforce_certificate_expiring", "funds_project_approved"} <= declared
    assert not {k for k in declared if templates.template_for(k) is templates.DEFAULT}
    assert templates.template_for("something_new") is templates.DEFAULT
    assert templates.is_urgent("intake_routed", {"urgent": True})
    assert templates.is_urgent("escalation_accept", {"level": 2}) and not templates.is_urgent(
        "escalation_accept", {"level": 1}
    )
    assert templates.is_urgent("mandatory_report", {})


async def test_demo_notifications_leave_no_identity(demo_settings: Settings, demo_db: Database) -> None:
    settings, db = demo_settings, demo_db
    load_jobs()
    # The demo's periodic checks write the notifications a morning would hold (overdue visits, late referrals).
    for name in ("cases.visit_alerts", "referrals.escalate_overdue", "cases.report_ack_overdue"):
        await tasks.JOBS[name](db)
    cipher = field_cipher(settings)
    async with db.session() as s:
        children = (await s.scalars(select(Child))).all()
        notes = (await s.scalars(select(Notification))).all()
        secrets: set[str] = set()
        for c in children:
            secrets |= {c.name, c.school, c.guardian_name}
            secrets.add(cipher.decrypt(c.id_number_enc, "children.id_number"))
            if c.address_enc:
                secrets.add(cipher.decrypt(c.address_enc, "children.address"))
        secrets = {x for x in secrets if x and len(x) >= 2}
        # Fake notifications as the other streams will write them: the in-app text names the child.
        samples = [(n.kind, n.data, n.title, n.body) for n in notes]
    for kind in [*templates.TEMPLATES, "safety_warning", "intake_routed", "conference_decision_due", "other_kind"]:
        c = children[len(samples) % len(children)]
        samples.append(
            (
                kind,
                {
                    "level": 2,
                    "count": 1,
                    "due_at": "2026-12-04T02:00:00+00:00",
                    "name": c.name,
                    "child_name": c.name,
                    "school": c.school,
                    "urgent": True,
                },
                c.name,
                c.name,
            )
        )
    assert len(notes) >= 5 and len(secrets) > 100
    leaks = []
    for kind, data, title, body in samples:
        r = templates.render(kind, data, URL)
        texts = [r.subject, r.body, *r.params.values()]
        for text in texts:
            for secret in secrets | {title, body} - {""}:
                if secret in text:
                    leaks.append((kind, secret))
            if re.search(r"\d{17}[\dXx]", text):
                leaks.append((kind, "an identity number"))
    figures.record(SUITE, "messages rendered", len(samples))
    figures.record(SUITE, "identities leaked", len(leaks))
    assert leaks == []
