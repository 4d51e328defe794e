"""The pieces of ``marketplace.cases.crypto`` that encrypt free text: the column type, the blind index of a name and
the unreadable marker."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from marketplace.cases.crypto import UNREADABLE, EncryptedText, FieldCipher, normalise_name
from marketplace.keyfiles import FieldKey
from marketplace.settings import Settings

K1 = FieldKey("k1", "a2V5LW9uZS1mb3ItdGhlLWNyeXB0by10ZXh0LXRlc3Q=")
K2 = FieldKey("k2", "a2V5LXR3by1mb3ItdGhlLWNyeXB0by10ZXh0LXRlc3Q=")


def dialect_with(settings: Settings, kind: str = "sqlite") -> object:
    d = sqlite.dialect() if kind == "sqlite" else postgresql.dialect()
    d.marketplace_settings = settings  # type: ignore[attr-defined]
    return d


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_column_type_seals_with_its_field_and_keeps_blank_values(settings: Settings, kind: str) -> None:
    column = EncryptedText("visits.findings")
    d = dialect_with(settings, kind)
    sealed = column.process_bind_param("孩子独自在家", d)  # type: ignore[arg-type]
    assert sealed is not None and sealed.startswith("v2:") and "孩子" not in sealed
    assert sealed != column.process_bind_param("孩子独自在家", d)  # type: ignore[arg-type]  # randomised
    assert column.process_result_value(sealed, d) == "孩子独自在家"  # type: ignore[arg-type]
    # Another column's associated data does not open it.
    assert EncryptedText("needs.note").process_result_value(sealed, d) == UNREADABLE  # type: ignore[arg-type]
    for blank in ("", None):
        assert column.process_bind_param(blank, d) == blank  # type: ignore[arg-type]
        assert column.process_result_value(blank, d) == blank  # type: ignore[arg-type]
    # A value stored before the column was encrypted reads as it is (migration 0022 encrypts them).
    assert column.process_result_value("旧的明文", d) == "旧的明文"  # type: ignore[arg-type]


def test_unreadable_values_are_marked_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    c = FieldCipher([K2])
    with caplog.at_level(logging.WARNING, logger="marketplace.cases.crypto"):
        assert c.readable(FieldCipher([K1]).encrypt("张三", "children.name"), "children.name") == UNREADABLE
        assert c.readable("v2:k2:not-base64!", "children.name") == UNREADABLE
        assert c.readable("v2:k2:AAAA", "children.name") == UNREADABLE
        assert c.readable("v9:whatever", "children.name") == UNREADABLE
    assert len([r for r in caplog.records if "children.name" in r.getMessage()]) == 4
    assert c.readable(c.encrypt("张三", "children.name"), "children.name") == "张三"


def test_the_blind_index_of_a_name() -> None:
    assert normalise_name(" 陈　小乐 ") == normalise_name("陈小乐") == "陈小乐"
    assert normalise_name("ＬＩ Ｍing") == "liming"
    one, both = FieldCipher([K1]), FieldCipher([K2, K1])
    assert one.name_hash("陈 小乐") == one.name_hash("陈小乐") != one.name_hash("陈小")
    # Keyed: another key gives another hash; a ring looks under each of its keys (a rotation under way).
    assert both.name_hash("陈小乐") != one.name_hash("陈小乐")
    assert both.name_hashes("陈小乐") == [both.name_hash("陈小乐"), one.name_hash("陈小乐")]
    # Never the identity number's lookup hash of the same text.
    assert one.name_hash("陈小乐") != one.lookup_hash("陈小乐")
