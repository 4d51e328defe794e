"""The rules of idempotency keys, with no HTTP in them.

A creating request that carries a key goes through three steps:

1. ``claim`` (its own short transaction, before the handler): the caller's key is looked up. Its stored answer is
   replayed when the request is the same (method, path, query and body hash); another request under the same key
   is refused (422); a request still running under it (a claim younger than ``LEASE_SECONDS``) is refused with 409
   (retry later). Otherwise the key is claimed with a fresh claim token.
2. ``store`` (in the request's own transaction, just before its commit): the answer (status, headers, body) is
   written into the claimed row. The write and its key commit together: a crash cannot leave a committed write
   without its key, nor a key without its write.
3. ``release`` (after the answer, when the request failed: a 4xx or 5xx answer or an error): the claim is deleted,
   so a corrected retry may use the same key. Keys of failed requests are not kept.

The claim is a separate transaction because a second request must see the first one running (409) before it does
the work a second time; a process that dies between the claim and its commit leaves a claim that a retry takes
over once it is older than ``LEASE_SECONDS`` (its write was rolled back with the process's transaction). A claim
taken over cannot be completed by its first holder: ``store`` writes only under the holder's claim token, else the
request's transaction is rolled back with a 409, so two attempts never both commit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import secrets
from dataclasses import dataclass, field

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.db import Database, utcnow
from marketplace.errors import BadRequest, Conflict, Invalid
from marketplace.idempotency.models import IdempotencyKey

log = logging.getLogger("marketplace.idempotency")

HEADER = "Idempotency-Key"
# The console's forms carry their key in this hidden field (admin.web adds one to every form it renders).
FORM_FIELD = "_idempotency_key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"  # printable ASCII without spaces: a UUID, a ULID, any token
_KEY = re.compile(KEY_PATTERN)
# How long a stored answer is replayed (and its key refused for another request).
KEEP = dt.timedelta(hours=24)
# A claim older than this belongs to a request that died: a retry takes it over.
LEASE_SECONDS = 60
# Answers larger than this are not stored (no creating request answers that much; an export is a file).
MAX_BODY_BYTES = 1024 * 1024
# Response headers never replayed: set per response, or the session's own.
_NOT_REPLAYED = frozenset({"set-cookie", "content-length", "date", "server", "x-request-id", "transfer-encoding"})

INVALID_KEY = (
    "Idempotency-Key 无效：应为 1 至 255 个可见 ASCII 字符（不含空格），建议使用 UUID "
    "(Idempotency-Key must be 1 to 255 printable ASCII characters without spaces)"
)
KEY_REUSED = (
    "该 Idempotency-Key 已用于另一个请求（方法、路径或内容不同），请为新请求使用新的键 "
    "(this Idempotency-Key was used for a different request; use a new key)"
)
# The console's words for the same refusals (its forms carry the key; the person sees a page, not a header).
FORM_REUSED = (
    "该表单已提交过，且内容与上次不同：请刷新页面后重新填写 (this form was already submitted with other values)"
)
FORM_IN_FLIGHT = (
    "该表单的上一次提交仍在处理中，请稍后刷新页面查看结果 (the previous submit of this form is still being processed)"
)
IN_FLIGHT = (
    "使用该 Idempotency-Key 的请求仍在处理中，请稍后重试 "
    "(a request with this Idempotency-Key is still being processed; retry later)"
)


@dataclass
class Claim:
    """A key held by the running request."""

    id: int
    token: str
    stored: bool = False


@dataclass(frozen=True)
class Answer:
    """A stored answer, replayed as it was given."""

    status_code: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def check_key(raw: str) -> str:
    """The key as sent, or a 400 problem when it is not one."""
    if not _KEY.fullmatch(raw):
        raise BadRequest(INVALID_KEY, errors=[{"field": HEADER, "message": INVALID_KEY}])
    return raw


def request_hash(method: str, path: str, query: bytes, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query, body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _answer(row: IdempotencyKey) -> Answer:
    headers = [(str(k), str(v)) for k, v in json.loads(row.headers or "[]")]
    return Answer(int(row.status_code or 200), headers, row.body or b"")


async def claim(db: Database, owner: str, key: str, method: str, path: str, fingerprint: str) -> Claim | Answer:
    """Claim ``key`` for this request, or the answer to give instead (a replay); raises 409 or 422 (see above)."""
    now = utcnow()
    for _attempt in range(3):
        async with db.session() as session:
            query = select(IdempotencyKey).where(IdempotencyKey.owner == owner, IdempotencyKey.key == key)
            if not db.settings.is_sqlite:
                # A request storing its answer holds the row: wait for its commit, then replay it.
                query = query.with_for_update()
            row = (await session.scalars(query)).first()
            token = secrets.token_hex(16)
            if row is not None and row.expires_at <= now:
                await session.delete(row)
                await session.flush()
                row = None
            if row is None:
                fresh = IdempotencyKey(
                    owner=owner,
                    key=key,
                    method=method,
                    path=path,
                    request_hash=fingerprint,
                    claim=token,
                    claimed_at=now,
                    created_at=now,
                    expires_at=now + KEEP,
                )
                session.add(fresh)
                try:
                    await session.flush()
                except IntegrityError:
                    # Another request claimed the same key between our read and our insert: look again.
                    await session.rollback()
                    continue
                return Claim(fresh.id, token)
            if (row.method, row.path, row.request_hash) != (method, path, fingerprint):
                raise Invalid(KEY_REUSED, errors=[{"field": HEADER, "message": KEY_REUSED}])
            if row.status_code is not None:
                return _answer(row)
            if row.claimed_at > now - dt.timedelta(seconds=LEASE_SECONDS):
                raise Conflict(IN_FLIGHT, headers={"Retry-After": "1"})
            # The first attempt died without an answer (its write was rolled back with it): this one takes over.
            log.warning("idempotency key of %s: claim older than %s s taken over", owner, LEASE_SECONDS)
            row.claim = token
            row.claimed_at = now
            return Claim(row.id, token)
    raise Conflict(IN_FLIGHT, headers={"Retry-After": "1"})


async def store(session: AsyncSession, held: Claim, answer: Answer) -> None:
    """Write the answer into the claimed row, in the request's own transaction (before its commit)."""
    now = utcnow()
    result = await session.execute(
        update(IdempotencyKey)
        .where(
            IdempotencyKey.id == held.id,
            IdempotencyKey.claim == held.token,
            IdempotencyKey.status_code.is_(None),
        )
        .values(
            status_code=answer.status_code,
            headers=json.dumps(answer.headers, ensure_ascii=False),
            body=answer.body,
            completed_at=now,
            expires_at=now + KEEP,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        # Our claim was taken over by a retry (we ran past the lease): its attempt answers, ours is undone.
        raise Conflict(IN_FLIGHT, headers={"Retry-After": "1"})
    held.stored = True


async def release(db: Database, held: Claim) -> None:
    """Forget a claim whose request failed (or whose answer could not be kept), so the key may be used again."""
    try:
        async with db.session() as session:
            await session.execute(
                delete(IdempotencyKey).where(
                    IdempotencyKey.id == held.id,
                    IdempotencyKey.claim == held.token,
                    IdempotencyKey.status_code.is_(None),
                )
            )
    except Exception:  # the claim's lease ends on its own; the request's own answer stands
        log.warning("idempotency claim %s could not be released; it lapses after %s s", held.id, LEASE_SECONDS)


def replayable_headers(headers: dict[str, str]) -> list[tuple[str, str]]:
    return [(k.lower(), v) for k, v in headers.items() if k.lower() not in _NOT_REPLAYED]


async def purge(db: Database, now: dt.datetime | None = None) -> int:
    """Delete the keys past their expiry (answers older than ``KEEP``, claims of requests that died)."""
    cutoff = now or utcnow()
    async with db.session() as session:
        result = await session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at <= cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
