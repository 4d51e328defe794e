"""Field encryption for identity numbers, contact details and the words that describe a child or a household
(AES-256-GCM) under a key ring, and keyed lookup hashes.

A ciphertext names the key that made it: ``v2:<key id>:<base64 of nonce + sealed>``. The ring holds the current key
(it encrypts) and older keys (they only decrypt), so ``marketplace rotate-field-key`` can move the rows to a new key
while the app keeps reading both. Ciphertexts from before key ids (``v1:<base64>``) are still read: each key of the
ring is tried (AES-GCM tells a wrong key). The lookup hash of an identity number is keyed by the key that encrypted
it; a search looks under every key of the ring, so a row is found before, during and after a rotation.

A ring read from the data directory's key file (development) follows the file: when it changes (a rotation added a
key) or a ciphertext names a key this process has not seen, the file is read again. A ring from the environment
learns a new key by a restart (README.md, Settings: rotating the field key).

What is encrypted, column by column (each sealed with ``"<table>.<column>"`` as associated data):

- by the services, with a lookup hash: ``children.id_number_enc`` (+ ``id_number_hmac``), ``guardian_phone_enc``,
  ``address_enc``; ``allowance_payees.account_enc``;
- by the column's type, ``EncryptedText`` (services and schemas see plain ``str``; ``""`` and ``None`` stay as
  they are), the free text that names or describes a child or a household (issue #17):
  ``children``: ``name`` (+ ``name_hmac``, the blind index of the normalised name: duplicate detection), ``school``,
  ``household_notes``, ``guardian_name``, ``guardian_relation``, ``share_note``;
  ``needs.note``; ``visits.findings``;
  ``mandatory_reports``: ``description``, ``subject_name``, ``subject_description``, ``place``;
  ``mandatory_report_steps.note``; ``child_transfers``: ``reason``, ``decision_note``; ``escalation_actions.note``;
  ``referrals``: ``share_note``, ``consent_override_reason``, ``decline_reason``, ``outcome_note``,
  ``verdict_note``, ``revoke_reason``; ``referral_logs.note``;
  ``allowance_decisions``: ``note``, ``review_note``, ``decision_note``; ``allowance_payees.name``;
  ``allowance_payments``: ``person_name``, ``payee_name``, ``reason`` (a special run's reason may describe the
  child's circumstances); ``notifications``: ``title``, ``body`` (a reminder names the child);
  ``export_jobs.content_sealed`` (a report export's file, in base64: children's figures per street);
  ``safety_checks``: ``notes``, ``household_note``; ``safety_warning_events.note`` (marketplace.safety).
  ``families_parents``: ``name``, ``employer``, ``phone``, ``wechat``, ``note`` (a left-behind child's parent
  away: how to reach them); ``families_contacts.note``; ``families_visits_home.note``.
  case conferences: ``conferences``: ``topic``, ``minutes``, ``cancel_reason``; ``conference_decisions``: ``text``,
  ``done_note``, ``cancel_reason``; ``conference_decision_revisions.reason``.
- left in clear, decided: codes and states (``gender``, ``categories``, ``risk_level``, ``guardianship``,
  ``allowance_decisions.reason``, which is a code such as ``turned_18``), dates, the police station and receipt
  number of a report (an institution's reference), ``allowance_payees.bank_name``, and the people who are not the
  child's household (users, social workers, organizations).

A ciphertext is randomised, so an encrypted column is never compared, searched or sorted in SQL: the children list
filters a name search in Python over the scoped rows (``cases.readmodel``), duplicate detection compares the blind
index (under every key of the ring), and ``marketplace rotate-field-key`` moves every such column
(``cases.rotation``). A value no key opens reads as ``UNREADABLE`` (``FieldCipher.readable``, with a warning in
the log) instead of failing the page. The search indexes hold services and organizations only
(``marketplace.indexing.documents``): never a child's name or notes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Dialect, MetaData, Text
from sqlalchemy.types import TypeDecorator

from marketplace import keyfiles, masking
from marketplace.errors import DomainError, refuse_nul
from marketplace.keyfiles import FieldKey
from marketplace.settings import Settings, get_settings

log = logging.getLogger(__name__)

_LEGACY = "v1"
# Masked values kept per cipher (see FieldCipher.masked): a district's caseload fits many times over.
MASKED_ENTRIES = 50_000
_VERSION = "v2"


class UnknownFieldKey(DomainError):
    """A ciphertext made with a key this process does not hold (restart it with the current key ring)."""

    status_code = 503


def _key_bytes(secret: str) -> bytes:
    try:
        raw = base64.b64decode(secret, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    # A development passphrase is stretched rather than refused (production requires 32 random bytes).
    return raw if len(raw) == 32 else hashlib.sha256(secret.encode()).digest()


@dataclass(frozen=True)
class _Key:
    id: str
    aead: AESGCM
    # A separate key for the lookup hash, so the hash never reveals anything about the cipher key.
    hmac_key: bytes
    # And another for the children's names (a blind index), so a name's hash never equals a number's.
    name_key: bytes

    @classmethod
    def of(cls, key: FieldKey) -> _Key:
        raw = _key_bytes(key.secret)
        return cls(
            key.id,
            AESGCM(raw),
            hmac.new(raw, b"marketplace/id-number-lookup", hashlib.sha256).digest(),
            hmac.new(raw, b"marketplace/child-name-lookup", hashlib.sha256).digest(),
        )

    def lookup_hash(self, value: str) -> str:
        return hmac.new(self.hmac_key, value.strip().upper().encode(), hashlib.sha256).hexdigest()

    def name_hash(self, value: str) -> str:
        return hmac.new(self.name_key, normalise_name(value).encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class _Ring:
    keys: tuple[_Key, ...]
    by_id: dict[str, _Key]

    @classmethod
    def of(cls, ring: Sequence[FieldKey]) -> _Ring:
        if not ring:
            raise ValueError("a field key ring needs at least one key")
        keys = tuple(_Key.of(k) for k in ring)
        by_id: dict[str, _Key] = {}
        for key, spec in zip(keys, ring, strict=True):
            # A key is also found under the id derived from it, which it carried when given without an id.
            by_id.setdefault(keyfiles.fingerprint(spec.secret), key)
        by_id.update({k.id: k for k in reversed(keys)})
        return cls(keys, by_id)


class FieldCipher:
    def __init__(self, ring: Sequence[FieldKey], source: Path | None = None) -> None:
        self._source = source
        self._stamp = self._file_stamp()
        self._ring = _Ring.of(ring)
        self._masked: dict[tuple[str, str, Callable[[str], str]], str] = {}

    # ------------------------------------------------------------ the ring

    @property
    def current_id(self) -> str:
        self.refresh()
        return self._ring.keys[0].id

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(k.id for k in self._ring.keys)

    def _file_stamp(self) -> tuple[int, int, int] | None:
        if self._source is None:
            return None
        try:
            st = self._source.stat()
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def refresh(self, *, force: bool = False) -> bool:
        """Re-read the key file when it changed (or ``force``); True when the ring was reloaded."""
        if self._source is None:
            return False
        stamp = self._file_stamp()
        if stamp is None or (stamp == self._stamp and not force):
            return False
        self._ring = _Ring.of(keyfiles.read_field_keys(self._source))
        self._stamp = stamp
        return True

    def _key(self, key_id: str) -> _Key:
        key = self._ring.by_id.get(key_id)
        if key is None and self.refresh(force=True):
            key = self._ring.by_id.get(key_id)
        if key is None:
            raise UnknownFieldKey(
                f"数据由本进程未持有的密钥加密，请以当前密钥环重启 (encrypted with unknown field key {key_id!r})"
            )
        return key

    # ------------------------------------------------------------ encryption

    def encrypt(self, plaintext: str, field: str) -> str:
        if "\x00" in plaintext:
            # No field of this domain holds a NUL; sealed, it would pass every later check unseen (a console form).
            raise refuse_nul(field.rpartition(".")[2])
        self.refresh()
        key = self._ring.keys[0]
        nonce = os.urandom(12)
        sealed = key.aead.encrypt(nonce, plaintext.encode(), field.encode())
        return f"{_VERSION}:{key.id}:" + base64.b64encode(nonce + sealed).decode()

    def decrypt(self, token: str, field: str) -> str:
        version, _, rest = token.partition(":")
        if version == _VERSION:
            key_id, _, body = rest.partition(":")
            blob = base64.b64decode(body)
            return self._key(key_id).aead.decrypt(blob[:12], blob[12:], field.encode()).decode()
        if version == _LEGACY:
            blob = base64.b64decode(rest)
            for key in self._ring.keys:
                try:
                    return key.aead.decrypt(blob[:12], blob[12:], field.encode()).decode()
                except InvalidTag:
                    continue
            raise UnknownFieldKey("旧格式密文无法用当前密钥环解密 (a v1 ciphertext no key of the ring opens)")
        raise ValueError("unknown ciphertext version")

    def masked(self, token: str, field: str, mask: Callable[[str], str]) -> str:
        """``mask(decrypt(token, field))``, kept per ciphertext: a caseload list shows the same masked identity
        numbers on every request, and only the masked form is kept (at most ``MASKED_ENTRIES``, then started
        again). A ciphertext names its nonce and key, so a re-encrypted value is a new entry."""
        key = (token, field, mask)
        hit = self._masked.get(key)
        if hit is None:
            hit = mask(self.decrypt(token, field))
            if len(self._masked) >= MASKED_ENTRIES:
                self._masked.clear()
            self._masked[key] = hit
        return hit

    def is_current(self, token: str) -> bool:
        """Whether ``token`` was made with the current key (rotation leaves such a value alone)."""
        return key_id_of(token) == self.current_id

    # ------------------------------------------------------------ lookup

    def lookup_hash(self, value: str) -> str:
        """The hash stored with a value encrypted now (under the current key)."""
        return self._ring.keys[0].lookup_hash(value)

    def lookup_hashes(self, value: str) -> list[str]:
        """The hashes a stored copy of ``value`` may carry: one per key of the ring (search with IN)."""
        self.refresh()
        return list(dict.fromkeys(k.lookup_hash(value) for k in self._ring.keys))

    def name_hash(self, name: str) -> str:
        """The blind index of a child's name (normalised: ``normalise_name``) under the current key."""
        self.refresh()
        return self._ring.keys[0].name_hash(name)

    def name_hashes(self, name: str) -> list[str]:
        """The blind indexes a stored copy of ``name`` may carry: one per key of the ring (search with IN)."""
        self.refresh()
        return list(dict.fromkeys(k.name_hash(name) for k in self._ring.keys))

    def readable(self, token: str, field: str) -> str:
        """``decrypt(token, field)``, or ``UNREADABLE`` (with a warning in the log) when no key of the ring opens it
        or it is not a ciphertext at all: a damaged value shows as unreadable instead of failing the page
        (``masking.reveal``, the one helper every read path goes through)."""
        return masking.reveal(self.decrypt, token, field, f"field {field}")


def normalise_name(name: str) -> str:
    """A name as the blind index sees it: full-width forms folded (NFKC), no white space, case folded; so "张 三",
    "张三 " and "张三" are the same child's name."""
    return "".join(unicodedata.normalize("NFKC", name).split()).casefold()


def is_ciphertext(value: str) -> bool:
    return value.startswith((f"{_VERSION}:", f"{_LEGACY}:"))


def key_id_of(token: str) -> str | None:
    """The id of the key that made ``token``; None for a legacy ``v1`` ciphertext."""
    version, _, rest = token.partition(":")
    return rest.partition(":")[0] if version == _VERSION else None


@lru_cache(maxsize=8)
def _cipher(ring: tuple[FieldKey, ...], source: str | None) -> FieldCipher:
    return FieldCipher(ring, Path(source) if source else None)


def field_cipher(settings: Settings) -> FieldCipher:
    """The cipher of ``settings``' key ring, one per ring and process (so a re-read key file is kept)."""
    return _cipher(settings.field_key_ring, settings.field_key_file)


# ------------------------------------------------------------ columns encrypted by their type

UNREADABLE = masking.UNREADABLE


def dialect_cipher(dialect: Dialect) -> FieldCipher:
    """The cipher of the database a statement runs on: ``marketplace.db.Database`` gives each of its engines' dialects
    its settings (``marketplace_settings``); an engine made elsewhere (a script) uses the process's settings."""
    cipher = getattr(dialect, "marketplace_cipher", None)
    if isinstance(cipher, FieldCipher):
        return cipher
    settings = getattr(dialect, "marketplace_settings", None)
    if not isinstance(settings, Settings):
        return field_cipher(get_settings())
    # Kept on the dialect: every encrypted value read or written asks, and the ring's key ids cost a hash each.
    cipher = field_cipher(settings)
    dialect.marketplace_cipher = cipher  # type: ignore[attr-defined]
    return cipher


class EncryptedText(TypeDecorator[str]):
    """A text column stored as a ciphertext of the field cipher (``v2:<key id>:…``, sealed with ``field`` as its
    associated data, so a value copied into another column does not open); services and schemas see plain ``str``.

    The empty string is stored as it is (a blank note reveals nothing the form does not), ``None`` stays ``None``.
    A stored value that is not a ciphertext (a row written before the column was encrypted) reads as it is; a
    ciphertext no key of the ring opens reads as ``UNREADABLE``. A ciphertext is randomised: such a column cannot
    be compared, searched or sorted in SQL (children's names carry a blind index, ``children.name_hmac``, for that).
    """

    impl = Text
    cache_ok = True

    def __init__(self, field: str) -> None:
        super().__init__()
        self.field = field

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None or value == "":
            return value  # type: ignore[no-any-return]
        return dialect_cipher(dialect).encrypt(str(value), self.field)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None or value == "" or not is_ciphertext(value):
            return value  # type: ignore[no-any-return]
        return dialect_cipher(dialect).readable(value, self.field)

    def copy(self, **kw: Any) -> EncryptedText:
        return EncryptedText(self.field)


def encrypted_columns(metadata: MetaData) -> dict[str, tuple[tuple[str, str], ...]]:
    """Per table, its ``EncryptedText`` columns and the associated data each is sealed with."""
    found: dict[str, tuple[tuple[str, str], ...]] = {}
    for table in metadata.sorted_tables:
        columns = tuple((c.name, c.type.field) for c in table.columns if isinstance(c.type, EncryptedText))
        if columns:
            found[table.name] = columns
    return found


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def resident_id_problem(number: str) -> str | None:
    """Why an 18-character resident ID number (GB 11643) is invalid, or None."""
    if len(number) != 18 or not number[:17].isdigit():
        return "须为18位：17位数字加校验位 (18 characters: 17 digits and a check character)"
    expected = _ID_CHECK[sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True)) % 11]
    if number[17].upper() != expected:
        return "校验位不符 (check character does not match)"
    return None
