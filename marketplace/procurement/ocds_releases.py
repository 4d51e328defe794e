"""OCDS releases frozen as they are made, and the packages served from them.

Each change of a procurement (tender, award, contract, accepted milestone, payment, amendment) emits an outbox event;
the handlers in ``procurement/handlers.py`` call :func:`freeze`, which stores every release of the process not
stored yet, exactly as it reads at that moment. A stored release is never rewritten: later edits to a row change
only the releases of later changes. The packages serve the stored releases, and build any not stored yet (data
from before the table, or an event still in the outbox) the same way, so a record never lacks a change.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.auth.principal import Principal
from marketplace.procurement.contracts import read_contract
from marketplace.procurement.models import Contract, Procurement
from marketplace.procurement.ocds import (
    ENCODER,
    build_record_package,
    build_release_package,
    load_process,
    releases_of,
)
from marketplace.procurement.ocds_models import OcdsRelease
from marketplace.procurement.service import get_procurement, read_procurement

_DECODER = msgspec.json.Decoder(dict[str, Any], float_hook=Decimal)


async def freeze(session: AsyncSession, procurement_id: int) -> int:
    """Store the process's releases that are not stored yet; the number stored. Safe to run twice."""
    procurement = await session.get(Procurement, procurement_id)
    if procurement is None:
        return 0
    rows = await _stored(session, procurement_id)
    fresh = releases_of(
        await load_process(session, procurement),
        [row.release_id for row in rows],
        rows[-1].date if rows else None,
    )
    added = 0
    for change, release in fresh:
        session.add(
            OcdsRelease(
                ocid=release["ocid"],
                release_id=release["id"],
                procurement_id=procurement_id,
                contract_id=change.contract_id,
                tag=release["tag"],
                date=change.when.astimezone(dt.UTC),
                body=ENCODER.encode(release).decode(),
            )
        )
        added += 1
    await session.flush()
    return added


async def _stored(session: AsyncSession, procurement_id: int) -> list[OcdsRelease]:
    rows = await session.scalars(
        select(OcdsRelease)
        .where(OcdsRelease.procurement_id == procurement_id)
        .order_by(OcdsRelease.date, OcdsRelease.id)
    )
    return list(rows.all())


async def procurement_of_contract(session: AsyncSession, contract_id: int) -> int | None:
    contract = await session.get(Contract, contract_id)
    return contract.procurement_id if contract else None


async def published(
    session: AsyncSession, procurement: Procurement, contract_id: int | None = None
) -> list[dict[str, Any]]:
    """The process's releases, oldest first: stored ones as stored, the rest as they read now.

    With ``contract_id``, only the releases of the tender, the award and that contract.
    """
    rows = await _stored(session, procurement.id)
    out = [(row.contract_id, _DECODER.decode(row.body)) for row in rows]
    process = await load_process(session, procurement)
    fresh = releases_of(process, [row.release_id for row in rows], rows[-1].date if rows else None)
    out += [(change.contract_id, release) for change, release in fresh]
    return [r for cid, r in out if contract_id is None or cid in (None, contract_id)]


async def release_package(session: AsyncSession, principal: Principal, contract_id: int, uri: str) -> bytes:
    """A contract's releases: those of its procurement's tender and award, and those of this contract."""
    contract = await read_contract(session, principal, contract_id)
    procurement = await get_procurement(session, contract.procurement_id)
    return ENCODER.encode(build_release_package(await published(session, procurement, contract.id), uri))


async def record_package(session: AsyncSession, principal: Principal, procurement_id: int, uri: str) -> bytes:
    """The record of a whole procurement: every release and the compiled release."""
    procurement = await read_procurement(session, principal, procurement_id)
    return ENCODER.encode(build_record_package(await published(session, procurement), uri))
