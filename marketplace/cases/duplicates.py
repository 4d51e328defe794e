"""Finding the identity numbers filed more than once (one person, one file): ``marketplace check-duplicates``.

Every file's number is decrypted (the ring opens older keys too, so a rotation under way does not hide a pair) and
equal numbers are grouped; the lookup hash is not enough, as two copies of one number under different keys carry
different hashes."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select

from marketplace import masking
from marketplace.cases.crypto import FieldCipher
from marketplace.cases.models import Child
from marketplace.db import Database
from marketplace.geography.models import Community
from marketplace.masking import mask_id_number


@dataclass(frozen=True)
class FileRef:
    child_id: int
    community_id: int
    community_name: str
    created_at: dt.datetime
    status: str


@dataclass(frozen=True)
class DuplicateGroup:
    id_number_masked: str
    files: tuple[FileRef, ...]


async def find_duplicates(db: Database, cipher: FieldCipher, *, batch_size: int = 1000) -> list[DuplicateGroup]:
    """The groups of files that share an identity number, each in file id order, groups by their first file."""
    by_number: dict[str, list[FileRef]] = defaultdict(list)
    async with db.session(write=False) as session:
        names = dict((await session.execute(select(Community.id, Community.name))).all())
        last = 0
        while True:
            rows = (
                await session.execute(
                    select(Child.id, Child.community_id, Child.created_at, Child.status, Child.id_number_enc)
                    .where(Child.id > last)
                    .order_by(Child.id)
                    .limit(batch_size)
                )
            ).all()
            if not rows:
                break
            for row in rows:
                number = masking.reveal(cipher.decrypt, row.id_number_enc, "children.id_number", f"child {row.id}")
                if number == masking.UNREADABLE:
                    continue  # logged by reveal; an unreadable number pairs with nothing
                number = number.strip().upper()
                by_number[number].append(
                    FileRef(row.id, row.community_id, names.get(row.community_id, ""), row.created_at, row.status)
                )
            last = rows[-1].id
    groups = [DuplicateGroup(mask_id_number(n), tuple(files)) for n, files in by_number.items() if len(files) > 1]
    return sorted(groups, key=lambda g: g.files[0].child_id)
