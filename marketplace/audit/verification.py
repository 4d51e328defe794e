"""``marketplace verify``: prove every hash chain (the audit log, the ledger) intact or name its first broken row.

Run from the command line, nightly (the ``audit.verify_chains`` job) or from the console. Each run is recorded
(:class:`~marketplace.audit.models.ChainVerification`); the last intact run's final row of each chain is the next
run's anchor, so a tail cut off or a chain rewritten from some row on is found too.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.audit import chain
from marketplace.audit.models import ChainVerification
from marketplace.auth.principal import Principal
from marketplace.db import Database, utcnow
from marketplace.features import load_models

RUNNERS = frozenset({"district_admin"})
VIEWERS = frozenset({"district_admin", "auditor"})
TRIGGERS = frozenset({"cli", "job", "console"})


@dataclass
class Outcome:
    record: ChainVerification
    results: list[chain.ChainResult]

    @property
    def ok(self) -> bool:
        return self.record.ok

    def lines(self) -> list[str]:
        out = []
        for r in self.results:
            state = "intact" if r.ok else "BROKEN"
            out.append(f"{r.table}: {state}, {r.rows} rows checked" + ("" if r.ok else f" ({r.broken.describe()})"))  # type: ignore[union-attr]
        return out


async def anchors(session: AsyncSession) -> dict[str, tuple[int, str]]:
    """Each chain's last row as the last intact verification found it."""
    last = await session.scalar(
        select(ChainVerification).where(ChainVerification.ok.is_(True)).order_by(ChainVerification.id.desc()).limit(1)
    )
    found: dict[str, tuple[int, str]] = {}
    for c in last.chains if last is not None else []:
        if c.get("last_id") is not None and c.get("last_hash"):
            found[str(c["table"])] = (int(c["last_id"]), str(c["last_hash"]))
    return found


async def run(db: Database, *, trigger: str, principal: Principal | None = None) -> Outcome:
    """Verify every chain and record the run; return what was found.

    The walk reads in its own read transaction (on SQLite no write lock: writers go on while millions of rows are
    checked); the record is written afterwards in a short write transaction of its own."""
    if principal is not None:
        principal.require(*RUNNERS)
    if trigger not in TRIGGERS:
        raise ValueError(f"unknown trigger {trigger!r}")
    load_models()  # the ledger's chains are declared beside its models
    started = utcnow()
    chains = [chain.CHAINS[name] for name in sorted(chain.CHAINS)]
    async with db.session(write=False) as reader:
        anchored = await anchors(reader)
        results = await reader.run_sync(
            lambda s: [chain.verify(s.connection(), c, anchored.get(c.name)) for c in chains]
        )
    first = next((r.broken for r in results if r.broken is not None), None)
    record = ChainVerification(
        started_at=started,
        finished_at=utcnow(),
        ok=first is None,
        rows_checked=sum(r.rows for r in results),
        chains=[r.as_dict() for r in results],
        broken=None if first is None else vars(first).copy(),
        trigger=trigger,
        user_id=principal.account_id if principal is not None else None,
    )
    async with db.session() as writer:
        writer.add(record)
    return Outcome(record, results)


async def latest(session: AsyncSession, principal: Principal, *, limit: int = 10) -> list[ChainVerification]:
    principal.require(*VIEWERS)
    rows = await session.scalars(select(ChainVerification).order_by(ChainVerification.id.desc()).limit(limit))
    return list(rows.all())
