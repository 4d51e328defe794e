from __future__ import annotations

import pytest

from marketplace.resources import credit_code as cc

# Constructed codes in the formats the district sees; each built by hand from its parts below.
CONSTRUCTED = [
    cc.make("5", "3", "440304", "MJ000001"),  # 民办非企业单位 (most social-work agencies)
    cc.make("5", "1", "440304", "MJ0000AB"),  # 社会团体
    cc.make("5", "2", "440300", "MJL00012"),  # 基金会 (city-registered)
    cc.make("9", "1", "440304", "MA5ABCDE"),  # 企业
    cc.make("1", "2", "440304", "45576012"),  # 事业单位
]

# Publicly printed codes of large companies (business-licence data), as a check against real data.
PUBLISHED = ["9144030071526726XG", "914403001922038216"]


def test_constructed_codes_are_valid() -> None:
    for code in CONSTRUCTED:
        assert len(code) == 18
        assert cc.validate(code) is None, code
        assert cc.is_valid(code)


def test_published_codes_are_valid() -> None:
    for code in PUBLISHED:
        assert cc.is_valid(code), cc.validate(code)


def test_make_known_value() -> None:
    # Organisation code MJ000001: M=22 J=19 → 66+133+0+...+2 = 201, 201 mod 11 = 3, check 8.
    assert cc.organization_check_digit("MJ000001") == "8"
    code = cc.make("5", "3", "440304", "MJ000001")
    assert code[:17] == "53440304MJ0000018"
    assert code == "53440304MJ0000018K"


def test_organization_check_digit_x_and_zero() -> None:
    # Find bodies whose check is 10 (→X) and 11 (→0) and confirm the mapping.
    seen = {cc.organization_check_digit(f"{n:08d}") for n in range(200)}
    assert "X" in seen
    assert "0" in seen
    assert cc.organization_check_digit("00000000") == "0"


def test_check_character_31_maps_to_zero() -> None:
    # All-zero body: sum 0, 31 - 0 = 31 → '0'.
    assert cc.check_character("0" * 17) == "0"


@pytest.mark.parametrize("code", CONSTRUCTED + PUBLISHED)
def test_every_single_character_corruption_is_detected(code: str) -> None:
    for pos in range(18):
        for ch in cc.ALPHABET:
            if ch == code[pos]:
                continue
            corrupted = code[:pos] + ch + code[pos + 1 :]
            assert cc.validate(corrupted) is not None, (pos, ch, corrupted)


def test_check_mismatch_message() -> None:
    code = CONSTRUCTED[0]
    wrong = "1" if code[-1] != "1" else "2"
    reason = cc.validate(code[:-1] + wrong)
    assert reason is not None
    assert "校验位错误" in reason
    assert f"expected {code[-1]}" in reason


@pytest.mark.parametrize(
    "bad",
    ["", "5344030", "53440304MJ0000018K0", "53440304MJ000001"],
)
def test_bad_lengths(bad: str) -> None:
    reason = cc.validate(bad)
    assert reason is not None
    assert "长度" in reason


@pytest.mark.parametrize("letter", ["I", "O", "Z", "S", "V", "-", "中", " "])
def test_bad_characters(letter: str) -> None:
    code = CONSTRUCTED[0]
    bad = code[:10] + letter + code[11:]
    reason = cc.validate(bad)
    assert reason is not None
    assert "非法字符" in reason


def test_unknown_authority_and_type() -> None:
    # Authority 'B' is not assigned; type '4' is not a civil-affairs type.
    first17 = "B1440304MJ0000018"
    assert "登记管理部门" in (cc.validate(first17 + cc.check_character(first17)) or "")
    first17 = "54440304MJ0000018"
    assert "机构类别" in (cc.validate(first17 + cc.check_character(first17)) or "")


def test_division_must_be_digits() -> None:
    first17 = "5344A304MJ0000018"
    assert "行政区划" in (cc.validate(first17 + cc.check_character(first17)) or "")


def test_lowercase_and_whitespace_are_normalised() -> None:
    code = CONSTRUCTED[0]
    assert cc.normalize(f"  {code.lower()}\n") == code
    assert cc.is_valid(code.lower())
    assert cc.is_valid(f" {code} ")


def test_non_string_is_rejected() -> None:
    assert cc.validate(None) is not None  # type: ignore[arg-type]


def test_make_rejects_bad_parts() -> None:
    with pytest.raises(ValueError):
        cc.make("B", "1", "440304", "MJ000001")
    with pytest.raises(ValueError):
        cc.make("5", "4", "440304", "MJ000001")
    with pytest.raises(ValueError):
        cc.make("5", "3", "44030", "MJ000001")
    with pytest.raises(ValueError):
        cc.make("5", "3", "440304", "MJ00000I")
    with pytest.raises(ValueError):
        cc.make("5", "3", "440304", "MJ00001")


def test_check_character_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        cc.check_character("0" * 16)
    with pytest.raises(ValueError):
        cc.check_character("0" * 16 + "I")


def test_make_round_trip_many() -> None:
    import random

    rng = random.Random(7)
    for _ in range(500):
        authority = rng.choice(sorted(cc.AUTHORITIES))
        org_type = rng.choice(sorted(cc.ORG_TYPES[authority]))
        division = f"{rng.randrange(110000, 659999):06d}"
        body = "".join(rng.choice(cc.ALPHABET) for _ in range(8))
        code = cc.make(authority, org_type, division, body)
        assert cc.is_valid(code), code
