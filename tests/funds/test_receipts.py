"""The amount in Chinese capitals, as a receipt writes it."""

from __future__ import annotations

import pytest

from marketplace.funds.receipts import capitals


@pytest.mark.parametrize(
    ("fen", "words"),
    [
        (1_200_000, "壹万贰仟元整"),
        (100, "壹元整"),
        (1_000_500, "壹万零伍元整"),
        (1_005_000, "壹万零伍拾元整"),
        (101_000, "壹仟零壹拾元整"),
        (1_000_005, "壹万元零伍分"),
        (10_050, "壹佰元伍角整"),
        (123_456_789, "壹佰贰拾叁万肆仟伍佰陆拾柒元捌角玖分"),
        (10_000_000_000, "壹亿元整"),
        (10_001_000_000, "壹亿零壹万元整"),
        (100_000_100, "壹佰万零壹元整"),
        (50, "伍角整"),
        (7, "柒分"),
        (0, "零元整"),
    ],
)
def test_capitals(fen: int, words: str) -> None:
    assert capitals(fen) == words
