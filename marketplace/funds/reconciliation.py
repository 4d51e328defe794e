"""Reconciliation's matching core: a pure function over two record lists, so a benchmark can drive it.

Both sides are reduced to ``Record(external_id, amount_fen, status)``: our ledger's view (donations and
refunds) and the other party's (Stripe's balance transactions, a bank statement). A hash join on the
external id finds what only one side has; the matched pairs are then compared on amount and status.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import compress, repeat
from operator import itemgetter, ne
from typing import NamedTuple

KINDS = {
    "missing_here": "我方无记录（对方有）",
    "missing_there": "对方无记录（我方有）",
    "amount_differs": "金额不符",
    "status_differs": "状态不符",
}


class Record(NamedTuple):
    external_id: str
    amount_fen: int
    status: str
    donation_id: int | None = None


@dataclass(frozen=True, slots=True)
class Difference:
    kind: str
    external_id: str
    donation_id: int | None
    expected_fen: int | None  # what our ledger says
    actual_fen: int | None  # what the other party says
    expected_status: str | None = None
    actual_status: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    matched: int
    differences: list[Difference]


_KEY = itemgetter(0)
_VALUE = itemgetter(1, 2)
# Stands for "no partner": its (amount, status) equals no real record's, and it is told apart by identity.
_MISSING = Record("", -1, "\x00missing", None)


def reconcile(ours: Sequence[Record], theirs: Sequence[Record]) -> Outcome:
    """Every difference between our records and theirs, sorted by external id; and how many agree.

    A hash join whose loops all run in C (dict, map, compress): index theirs by id, pop each of ours'
    partners out of it (what is left over is missing here), compare (amount, status) pairwise, and only
    touch the few differing records in Python. Repeated ids on either side take the general path.
    """
    there = dict(zip(map(_KEY, theirs), theirs, strict=True))
    if len(there) != len(theirs):
        return _reconcile_general(ours, theirs)
    partners = list(map(there.pop, map(_KEY, ours), repeat(_MISSING)))
    differing = list(compress(range(len(ours)), map(ne, map(_VALUE, ours), map(_VALUE, partners))))
    lone = {ours[i][0] for i in differing if partners[i] is _MISSING}
    if lone and sum(map(lone.__contains__, map(_KEY, ours))) != len(lone):
        # An id repeated on our side: a second copy found its partner already taken.
        return _reconcile_general(ours, theirs)
    diffs: list[Difference] = []
    for i in differing:
        a, b = ours[i], partners[i]
        if b is _MISSING:
            diffs.append(Difference("missing_there", a[0], a[3], a[1], None, a[2], None))
        elif a[1] != b[1]:
            diffs.append(Difference("amount_differs", a[0], a[3], a[1], b[1], a[2], b[2]))
        else:
            diffs.append(Difference("status_differs", a[0], a[3], a[1], b[1], a[2], b[2]))
    diffs.extend(Difference("missing_here", k, None, None, r[1], None, r[2]) for k, r in there.items())
    diffs.sort(key=lambda d: (d.external_id, d.kind))
    return Outcome(len(ours) - len(differing), diffs)


def _index(records: Sequence[Record]) -> dict[str, Record]:
    index: dict[str, Record] = {}
    for r in records:
        prior = index.get(r[0])
        # The same id twice on one side (a settlement split over two lines): compare the totals.
        index[r[0]] = r if prior is None else prior._replace(amount_fen=prior[1] + r[1])
    return index


def _reconcile_general(ours: Sequence[Record], theirs: Sequence[Record]) -> Outcome:
    here = _index(ours)
    there = _index(theirs)
    diffs: list[Difference] = [
        Difference("missing_there", k, r[3], r[1], None, r[2], None) for k, r in here.items() if k not in there
    ]
    diffs.extend(Difference("missing_here", k, None, None, r[1], None, r[2]) for k, r in there.items() if k not in here)
    matched = 0
    for k, a in here.items():
        b = there.get(k)
        if b is None:
            continue
        if a[1] != b[1]:
            diffs.append(Difference("amount_differs", k, a[3], a[1], b[1], a[2], b[2]))
        elif a[2] != b[2]:
            diffs.append(Difference("status_differs", k, a[3], a[1], b[1], a[2], b[2]))
        else:
            matched += 1
    diffs.sort(key=lambda d: (d.external_id, d.kind))
    return Outcome(matched, diffs)


def reconcile_naive(ours: Iterable[Record], theirs: Iterable[Record]) -> Outcome:
    """The textbook sort-merge, one record at a time: the baseline the benchmark compares against."""
    a = sorted(ours, key=lambda r: r.external_id)
    b = sorted(theirs, key=lambda r: r.external_id)
    i = j = matched = 0
    diffs: list[Difference] = []
    while i < len(a) or j < len(b):
        if j >= len(b) or (i < len(a) and a[i].external_id < b[j].external_id):
            r = a[i]
            diffs.append(Difference("missing_there", r.external_id, r.donation_id, r.amount_fen, None, r.status, None))
            i += 1
        elif i >= len(a) or b[j].external_id < a[i].external_id:
            r = b[j]
            diffs.append(Difference("missing_here", r.external_id, None, None, r.amount_fen, None, r.status))
            j += 1
        else:
            x, y = a[i], b[j]
            if x.amount_fen != y.amount_fen:
                diffs.append(
                    Difference(
                        "amount_differs", x.external_id, x.donation_id, x.amount_fen, y.amount_fen, x.status, y.status
                    )
                )
            elif x.status != y.status:
                diffs.append(
                    Difference(
                        "status_differs", x.external_id, x.donation_id, x.amount_fen, y.amount_fen, x.status, y.status
                    )
                )
            else:
                matched += 1
            i += 1
            j += 1
    diffs.sort(key=lambda d: (d.external_id, d.kind))
    return Outcome(matched, diffs)
