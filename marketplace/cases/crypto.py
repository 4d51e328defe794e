"""Field encryption for identity numbers and contact details (AES-256-GCM), and a keyed lookup hash."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = "v1"


class FieldCipher:
    def __init__(self, field_key: str) -> None:
        try:
            raw = base64.b64decode(field_key, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        # An operator may set a passphrase instead of 32 random bytes; stretch it rather than refuse to start.
        key = raw if len(raw) == 32 else hashlib.sha256(field_key.encode()).digest()
        self._aead = AESGCM(key)
        # A separate key for the lookup hash, so the hash never reveals anything about the cipher key.
        self._hmac_key = hmac.new(key, b"marketplace/id-number-lookup", hashlib.sha256).digest()

    def encrypt(self, plaintext: str, field: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), field.encode())
        return f"{_VERSION}:" + base64.b64encode(nonce + sealed).decode()

    def decrypt(self, token: str, field: str) -> str:
        version, _, body = token.partition(":")
        if version != _VERSION:
            raise ValueError("unknown ciphertext version")
        blob = base64.b64decode(body)
        return self._aead.decrypt(blob[:12], blob[12:], field.encode()).decode()

    def lookup_hash(self, value: str) -> str:
        return hmac.new(self._hmac_key, value.strip().upper().encode(), hashlib.sha256).hexdigest()


@lru_cache(maxsize=4)
def cipher(field_key: str) -> FieldCipher:
    return FieldCipher(field_key)


def mask_id_number(value: str) -> str:
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_phone(value: str) -> str:
    if not value:
        return ""
    if len(value) <= 7:
        return value[:1] + "*" * (len(value) - 1)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_text(value: str) -> str:
    """Addresses: keep the first few characters (the area), hide the rest."""
    if not value:
        return ""
    keep = min(6, max(1, len(value) // 3))
    return value[:keep] + "*" * (len(value) - keep)


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
