"""The masking policy: for each sensitive field of a child's file and each role, what is shown.

Every view of a child (the API's file and list, the console's pages, the duplicates review) asks this module
(``show``, ``show_date``) instead of choosing a mask itself. The forms are ``full`` (the value), ``masked`` (the
field's mask below) and ``hidden`` (nothing: an empty string, or no date).

========================  ==============  ================  ==============  ==============  =============
field                     child_director  child_supervisor  district_admin  auditor         other roles
========================  ==============  ================  ==============  ==============  =============
name                      full            full              full            full            hidden
birth_date                full            full              hidden (age)    hidden (age)    hidden
id_number                 hidden          hidden            masked: last 4  masked: last 4  hidden
guardian_name             full            full              masked          masked          hidden
guardian_phone            masked          masked            masked          masked          hidden
address                   masked          masked            masked          masked          hidden
========================  ==============  ================  ==============  ==============  =============

Why (DOMAIN.md's roles):

- The **identity number** rebuilds from its parts: 6 digits of region (the district's code, known from the street),
  8 of birth date, 3 of sequence (odd for boys, even for girls) and a check character computed from the other 17.
  The old mask kept the first 4 and the last 4 while the file showed the birth date: region + birth date + last 4 is
  the whole number. So a role sees the last 4 only where it does not see the birth date, and the roles that see the
  birth date see no digit of the number. The director and the supervisor work with the child's age, school and
  visits, and the birth date; a director confirms a number a guardian shows with the console's identity-number check when filing
  (``cases.service.check_id_number``: whether it is valid and already on file), without it being shown. The district and the
  auditor match files against allowance and payment records by the last 4 digits and need the age, not the birth
  date: with region, age, gender and the last 4, some 30 numbers remain possible (never one).
- **Guardians' phones**: every role that reads the file sees the masked number (enough to recognise it, not to
  call); the full number is given only through the audited contact reveal with a reason.
- **Addresses**: the area (street, community) only, for every role that reads the file.
- **Guardians' names**: in full to the ones who visit (director) and oversee them (supervisor); the surname only
  to the district and the auditor.
- Roles that may not read children's files at all (organizations, fund and procurement staff) are refused by the
  cases service before any of this; ``hidden`` is their answer should a view ever reach here.

A value whose ciphertext cannot be decrypted (a wrong key, a corrupted row) is shown as ``UNREADABLE``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Final, Literal

from cryptography.exceptions import InvalidTag

from marketplace.errors import DomainError

log = logging.getLogger("marketplace")

Form = Literal["full", "masked", "hidden"]

UNREADABLE: Final = "无法解密"

FIELDS: Final = ("name", "birth_date", "id_number", "guardian_name", "guardian_phone", "address")

_FILE_KEEPERS: Final[dict[str, Form]] = {
    "name": "full",
    "birth_date": "full",
    "id_number": "hidden",
    "guardian_name": "full",
    "guardian_phone": "masked",
    "address": "masked",
}
_DISTRICT: Final[dict[str, Form]] = {
    "name": "full",
    "birth_date": "hidden",
    "id_number": "masked",
    "guardian_name": "masked",
    "guardian_phone": "masked",
    "address": "masked",
}
POLICY: Final[dict[str, dict[str, Form]]] = {
    "child_director": _FILE_KEEPERS,
    "child_supervisor": _FILE_KEEPERS,
    "district_admin": _DISTRICT,
    "auditor": _DISTRICT,
}


def form_of(role: str, field: str) -> Form:
    """What ``role`` sees of ``field``: ``hidden`` for any role or field the policy does not name."""
    return POLICY.get(role, {}).get(field, "hidden")


def mask_id_number(value: str) -> str:
    """The last 4 characters only (sequence and check): never the region or the birth date."""
    if len(value) <= 4:
        return "*" * len(value)
    return "*" * (len(value) - 4) + value[-4:]


def hide_id_number(value: str) -> str:
    """No digit at all: the number is on file, nothing more."""
    return "*" * len(value)


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


def mask_name(value: str) -> str:
    """A person's name: the surname (first character) only."""
    return value[:1] + "*" * (len(value) - 1) if value else ""


MASKS: Final[dict[str, Callable[[str], str]]] = {
    "name": mask_name,
    "id_number": mask_id_number,
    "guardian_name": mask_name,
    "guardian_phone": mask_phone,
    "address": mask_text,
}
# What a hidden field shows in place of the value (the identity number keeps its length: it is on file).
HIDDEN: Final[dict[str, Callable[[str], str]]] = {"id_number": hide_id_number}


def show(role: str, field: str, value: str | None) -> str:
    """``value`` of ``field`` as ``role`` may see it ("" for nothing; ``UNREADABLE`` stays as it is)."""
    if not value or value == UNREADABLE:
        return value or ""
    form = form_of(role, field)
    if form == "full":
        return value
    if form == "masked":
        return MASKS[field](value)
    hide = HIDDEN.get(field)
    return hide(value) if hide else ""


def masker(role: str, field: str) -> Callable[[str], str]:
    """``show`` for one role and field as a function of the value (what a cache of masked values keys on)."""
    return _MASKERS.setdefault((role, field), lambda value: show(role, field, value))


_MASKERS: dict[tuple[str, str], Callable[[str], str]] = {}


def show_date(role: str, field: str, value: dt.date | None) -> dt.date | None:
    """A date field (the birth date): the date, or None when ``role`` may not see it."""
    return value if form_of(role, field) == "full" else None


# What a field cipher raises for a value it cannot open: a wrong key (AES-GCM's tag), a malformed or foreign value
# (base64, version, text), a key this process does not hold (``cases.crypto.UnknownFieldKey``, a DomainError).
UNREADABLE_ERRORS: Final = (InvalidTag, ValueError, IndexError, DomainError)


def reveal(decrypt: Callable[[str, str], str], token: str | None, field: str, owner: object) -> str:
    """``decrypt(token, field)``, or ``UNREADABLE`` with a warning naming ``owner`` and the field when the
    ciphertext cannot be decrypted: one damaged value never makes a whole file unreadable (or a 500)."""
    if not token:
        return ""
    try:
        return decrypt(token, field)
    except UNREADABLE_ERRORS as exc:
        log.warning("%s: %s cannot be decrypted (%s)", owner, field, type(exc).__name__)
        return UNREADABLE
