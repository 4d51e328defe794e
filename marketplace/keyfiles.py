"""Development keys kept in the data directory, made on first use and reused by every process.

Without ``MARKETPLACE_SECRET_KEY`` / ``MARKETPLACE_FIELD_KEY(S)`` (development, ``make run``) the app's secrets are
random bytes from :mod:`secrets` written to the data directory, readable by their owner only:

* ``secret_key``: signs tokens and console sessions (one line of text);
* ``field_keys``: the field encryption key ring, one ``<key id>:<base64 of 32 bytes>`` per line, the first line
  encrypting, the others kept to decrypt what they encrypted until ``marketplace rotate-field-key`` has moved it.

A file is created whole or not at all (written under a temporary name, then linked into place), so processes
starting together agree on one key: the first to link wins and the others read its file. Nothing here reads the
environment; ``marketplace.settings.get_settings`` decides when the files are used.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("marketplace.keys")

SECRET_KEY_FILE = "secret_key"  # noqa: S105 (a file name, not a secret)
FIELD_KEYS_FILE = "field_keys"
KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,40}")
_HEADER = (
    "# Field encryption keys (marketplace/keyfiles.py): '<key id>:<base64 of 32 bytes>' per line.\n"
    "# The first line encrypts; the others only decrypt until `marketplace rotate-field-key` has moved their data.\n"
)


@dataclass(frozen=True)
class FieldKey:
    """One key of the field encryption ring: its id (written into every ciphertext it makes) and its material
    (base64 of 32 bytes; a development passphrase is stretched instead)."""

    id: str
    secret: str

    def __repr__(self) -> str:  # never print key material
        return f"FieldKey(id={self.id!r})"


def fingerprint(secret: str) -> str:
    """The id of a key given without one (``MARKETPLACE_FIELD_KEY``): derived from the key, revealing nothing of it."""
    return "fp" + hmac.new(secret.encode(), b"marketplace/field-key-id", hashlib.sha256).hexdigest()[:10]


def new_field_key() -> FieldKey:
    return FieldKey(secrets.token_hex(4), base64.b64encode(secrets.token_bytes(32)).decode())


def is_raw_key(secret: str) -> bool:
    """True when ``secret`` is base64 of exactly 32 bytes (a real AES-256 key, not a passphrase)."""
    try:
        return len(base64.b64decode(secret, validate=True)) == 32
    except (binascii.Error, ValueError):
        return False


def _ensure_dir(directory: Path) -> None:
    if not directory.is_dir():
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)


def _write_temp(path: Path, text: str) -> Path:
    """A new file beside ``path`` holding ``text`` (mode 0600, synced): what gets linked or renamed into place."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    return tmp


def _write_new(path: Path, text: str) -> bool:
    """Create ``path`` holding ``text`` with mode 0600 unless it exists; True when this call created it."""
    _ensure_dir(path.parent)
    tmp = _write_temp(path, text)
    try:
        os.link(tmp, path)  # atomic, and fails when another process got there first
        return True
    except FileExistsError:
        return False
    except OSError:
        # A file system without hard links: create the file exclusively and write it in place.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return False
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)
        return True
    finally:
        tmp.unlink()


def _replace(path: Path, text: str) -> None:
    """Replace ``path`` atomically with ``text`` (mode 0600): a reader sees the old file or the new, whole."""
    os.replace(_write_temp(path, text), path)


def _read(path: Path) -> str:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("%s was readable by others (mode %o): set to 0600", path, mode)
        path.chmod(0o600)
    return path.read_text(encoding="utf-8")


def secret_key(data_dir: Path) -> str:
    """The data directory's secret key, created on first use."""
    path = data_dir / SECRET_KEY_FILE
    if not path.exists() and _write_new(path, secrets.token_urlsafe(48) + "\n"):
        log.info("created %s (a new random secret key)", path)
    value = _read(path).strip()
    if len(value) < 32:
        raise ValueError(f"{path} holds no usable key: delete it to have a new one made")
    return value


def parse_field_keys(text: str, where: str) -> tuple[FieldKey, ...]:
    keys: list[FieldKey] = []
    for n, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key_id, sep, material = line.partition(":")
        if not sep or not KEY_ID.fullmatch(key_id) or not is_raw_key(material):
            raise ValueError(f"{where} line {n}: expected '<key id>:<base64 of 32 bytes>'")
        keys.append(FieldKey(key_id, material))
    if not keys:
        raise ValueError(f"{where} holds no key")
    if len({k.id for k in keys}) != len(keys):
        raise ValueError(f"{where}: a key id is used twice")
    return tuple(keys)


def field_keys_path(data_dir: Path) -> Path:
    return data_dir / FIELD_KEYS_FILE


def read_field_keys(path: Path) -> tuple[FieldKey, ...]:
    """The ring in ``path``, current key first (the file must exist)."""
    return parse_field_keys(_read(path), str(path))


def field_keys(data_dir: Path) -> tuple[FieldKey, ...]:
    """The data directory's field key ring, created with one new key on first use."""
    path = field_keys_path(data_dir)
    if not path.exists() and _write_new(path, _render(new_field_key())):
        log.info("created %s (a new random field encryption key)", path)
    return read_field_keys(path)


def _render(*keys: FieldKey) -> str:
    return _HEADER + "".join(f"{k.id}:{k.secret}\n" for k in keys)


def add_field_key(path: Path) -> FieldKey:
    """Put a new random key first in the ring at ``path`` (the older keys stay, to decrypt); the new key."""
    ring = read_field_keys(path)
    key = new_field_key()
    while key.id in {k.id for k in ring}:
        key = new_field_key()
    _replace(path, _render(key, *ring))
    return key


def drop_field_keys(path: Path, ids: set[str]) -> None:
    """Remove the keys ``ids`` from the ring at ``path``; the current (first) key always stays."""
    current, *older = read_field_keys(path)
    _replace(path, _render(current, *(k for k in older if k.id not in ids)))
