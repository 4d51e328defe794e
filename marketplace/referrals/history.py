"""The referral history matching weighs (its ``ReferralHistory`` port), read from the referrals table."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import Connection, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.matching.ports import ChildHistory
from marketplace.matching.scoring import ProviderRecord
from marketplace.referrals.models import Referral

# Statuses in which a provider is serving the child now (continuity) or has finished (history).
SERVING = ("accepted", "in_service")
# A provider's record counts what the caseworkers found at the close: a completed referral's outcome is only
# the provider's proposal until the verdict.
FINISHED = ("closed",)
# A social worker carries a referral from the moment it is sent until the service ends.
CARRIED = ("sent", *SERVING)
# The verdicts that count as help, with their weight in the provider's record. A verdict that the need no longer
# exists (withdrawn) judges nobody: it counts neither for nor against the provider.
HELPED = {"met": 1.0, "partly_met": 0.5}
JUDGED = frozenset({"met", "partly_met", "not_met"})
# At most this many ids in one IN (...): SQLite's bound-parameter limit.
CHUNK = 900


# The statements, built once (bound values: the ids as an expanding IN list).
CHILDREN_REFERRALS = select(
    Referral.child_id, Referral.service_id, Referral.organization_id, Referral.status, Referral.verdict
).where(Referral.status.in_(("declined", *SERVING, *FINISHED)))
OF_CHILDREN = CHILDREN_REFERRALS.where(Referral.child_id.in_(bindparam("ids", expanding=True)))
PROVIDER_REFERRALS = select(
    Referral.organization_id,
    Referral.status,
    Referral.verdict,
    Referral.sent_at,
    Referral.accepted_at,
    Referral.declined_at,
).where(Referral.organization_id.in_(bindparam("ids", expanding=True)), Referral.sent_at >= bindparam("since"))
CASELOADS = (
    select(Referral.social_worker_id, func.count())
    .where(Referral.social_worker_id.in_(bindparam("ids", expanding=True)), Referral.status.in_(CARRIED))
    .group_by(Referral.social_worker_id)
)


def _chunks(values: Sequence[int], size: int = CHUNK) -> Iterable[Sequence[int]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


class ReferralHistory:
    """Each question answered on a synchronous ``Connection`` (``*_on``: the match endpoint reads through
    ``Database.read``); the session methods run the same functions on the session's connection."""

    async def children(self, session: AsyncSession, child_ids: Sequence[int]) -> Mapping[int, ChildHistory]:
        return await session.run_sync(lambda s: self.children_on(s.connection(), child_ids))

    async def providers(
        self, session: AsyncSession, organization_ids: Sequence[int], since: dt.datetime
    ) -> Mapping[int, ProviderRecord]:
        return await session.run_sync(lambda s: self.providers_on(s.connection(), organization_ids, since))

    async def caseloads(self, session: AsyncSession, social_worker_ids: Sequence[int]) -> Mapping[int, int]:
        return await session.run_sync(lambda s: self.caseloads_on(s.connection(), social_worker_ids))

    def children_on(self, conn: Connection, child_ids: Sequence[int]) -> Mapping[int, ChildHistory]:
        declined: dict[int, set[int]] = defaultdict(set)
        current: dict[int, set[int]] = defaultdict(set)
        helped: dict[int, set[int]] = defaultdict(set)
        ids = sorted(set(child_ids))
        # Many children (a district's batch): one pass over the referrals beats a hundred IN (...) queries.
        wanted = set(ids) if len(ids) > 4 * CHUNK else None
        queries = (
            [conn.execute(CHILDREN_REFERRALS)]
            if wanted is not None
            else [conn.execute(OF_CHILDREN, {"ids": list(c)}) for c in _chunks(ids)]
        )
        for rows in queries:
            for child_id, service_id, org_id, status, verdict in rows:
                if wanted is not None and child_id not in wanted:
                    continue
                if status == "declined":
                    declined[child_id].add(service_id)
                elif status in SERVING:
                    current[child_id].add(org_id)
                elif verdict in HELPED:
                    helped[child_id].add(org_id)
        # Only the children with a history: the port lets the others be missing (a district batch asks for
        # every child, and most have none).
        return {
            child_id: ChildHistory(
                declined_services=frozenset(declined.get(child_id, ())),
                current_orgs=frozenset(current.get(child_id, ())),
                helped_orgs=frozenset(helped.get(child_id, ())),
            )
            for child_id in sorted(declined.keys() | current.keys() | helped.keys())
        }

    def providers_on(
        self, conn: Connection, organization_ids: Sequence[int], since: dt.datetime
    ) -> Mapping[int, ProviderRecord]:
        ids = sorted(set(organization_ids))
        finished: dict[int, int] = defaultdict(int)
        dropped: dict[int, int] = defaultdict(int)
        got_help: dict[int, float] = defaultdict(float)
        hours: dict[int, list[float]] = defaultdict(list)
        seen: set[int] = set()
        for chunk in _chunks(ids):
            result = conn.execute(PROVIDER_REFERRALS, {"ids": list(chunk), "since": since})
            for org_id, status, verdict, sent_at, accepted_at, declined_at in result:
                seen.add(org_id)
                answered = accepted_at or declined_at
                if answered is not None and sent_at is not None:
                    hours[org_id].append((answered - sent_at).total_seconds() / 3600.0)
                if status in FINISHED:
                    if verdict in JUDGED:
                        finished[org_id] += 1
                        got_help[org_id] += HELPED.get(verdict or "", 0.0)
                elif status == "declined" or (status == "revoked" and accepted_at is not None):
                    dropped[org_id] += 1
        return {
            org_id: ProviderRecord(
                responded=len(hours[org_id]),
                mean_response_hours=sum(hours[org_id]) / len(hours[org_id]) if hours[org_id] else 0.0,
                finished=finished[org_id],
                dropped=dropped[org_id],
                got_help=got_help[org_id],
            )
            for org_id in sorted(seen)  # the port lets the providers without referrals be missing
        }

    def caseloads_on(self, conn: Connection, social_worker_ids: Sequence[int]) -> Mapping[int, int]:
        loads: dict[int, int] = {}
        for chunk in _chunks(sorted(set(social_worker_ids))):
            rows = conn.execute(CASELOADS, {"ids": list(chunk)})
            loads.update((int(worker_id), int(count)) for worker_id, count in rows.all() if worker_id is not None)
        return loads
