"""What every backend reads from a document, and the labels the app passes in.

``search/`` knows no feature: the codes of a document's coded fields (service categories, child categories,
organization kinds) are turned into searchable Chinese labels through the :class:`Labels` the caller passes
to the backend (the app builds them from its taxonomy, see ``marketplace.indexing.documents``). A label the
document carries itself (``category_labels``) wins over the mapping; a code without a label is searched as is.

The helpers here are shared by the in-process engines (:mod:`search.embedded`, :mod:`search.fts5`) and the
Meilisearch backend (:mod:`search.meili`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from search.port import SERVICES, Document


@dataclass(frozen=True, kw_only=True)
class Labels:
    """The app's labels for coded values: ``{code: label}`` per coded field, plus further labels to keep whole.

    Every label (split at ``、`` and ``/``) joins the Chinese segmenter's dictionary, so a label is one
    token in documents and queries alike; ``other`` lists labels of fields the index does not hold (delivery
    modes, funding sources, ...) that users still type.
    """

    service_categories: Mapping[str, str] = field(default_factory=dict)
    child_categories: Mapping[str, str] = field(default_factory=dict)
    organization_kinds: Mapping[str, str] = field(default_factory=dict)
    other: tuple[str, ...] = ()

    def all(self) -> Iterator[str]:
        """Every label, in a stable order."""
        for table in (self.service_categories, self.child_categories, self.organization_kinds):
            yield from table.values()
        yield from self.other


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple | set | frozenset):
        return list(value)
    return [value]


def text(value: Any) -> str:
    return " ".join(str(v) for v in as_list(value) if v is not None)


def number(value: Any, default: float = math.nan) -> float:
    return default if value is None else float(value)


def date_days(value: Any) -> float:
    """A date (or ISO string) as a day ordinal; NaN when missing."""
    if not value:
        return math.nan
    if isinstance(value, datetime):
        return float(value.date().toordinal())
    if isinstance(value, date):
        return float(value.toordinal())
    return float(date.fromisoformat(str(value)[:10]).toordinal())


def epoch_seconds(value: Any) -> float:
    """A datetime (or ISO string, naive meaning UTC) as seconds since the epoch; NaN when missing."""
    if not value:
        return math.nan
    dt = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def category_labels(doc: Document, labels: Labels) -> list[str]:
    """A service's category labels: its own ``category_labels``, else its codes' labels."""
    own = as_list(doc.get("category_labels"))
    if own:
        return [str(label) for label in own]
    return [labels.service_categories.get(c, c) for c in as_list(doc.get("categories"))]


def child_category_labels(doc: Document, labels: Labels) -> list[str]:
    return [labels.child_categories.get(c, c) for c in as_list(doc.get("child_categories"))]


def kind_label(doc: Document, labels: Labels) -> str:
    kind = doc.get("kind")
    return labels.organization_kinds.get(str(kind), "") if kind else ""


def searchable_texts(index_name: str, doc: Document, labels: Labels) -> dict[str, str]:
    """The text of every searchable field, derived label fields included."""
    if index_name == SERVICES:
        return {
            "title": text(doc.get("title")),
            "category_labels": text(category_labels(doc, labels)),
            "child_category_labels": text(child_category_labels(doc, labels)),
            "organization_name": text(doc.get("organization_name")),
            "description": text(doc.get("description")),
            "eligibility": text(doc.get("eligibility")),
        }
    return {
        "name": text(doc.get("name")),
        "kind_label": kind_label(doc, labels),
        "description": text(doc.get("description")),
        "credit_code": text(doc.get("credit_code")),
    }


def numeric_values(index_name: str, doc: Document) -> dict[str, float]:
    """The numbers the in-process engines filter and sort on (NaN where unknown)."""
    n_streets = float(len(as_list(doc.get("street_ids"))))
    if index_name == SERVICES:
        return {
            "organization_id": number(doc.get("organization_id")),
            "age_min": number(doc.get("age_min"), 0.0),
            "age_max": number(doc.get("age_max"), 200.0),
            "capacity_left": number(doc.get("capacity_left"), 0.0),
            "cost_per_case_fen": number(doc.get("cost_per_case_fen")),
            "assured_on": date_days(doc.get("assured_on")),
            "updated_at": epoch_seconds(doc.get("updated_at")),
            "n_streets": n_streets,
        }
    return {"n_streets": n_streets, "updated_at": epoch_seconds(doc.get("updated_at"))}
