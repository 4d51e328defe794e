"""The unified social credit code (统一社会信用代码, GB 32100-2015).

An 18-character code over the 31-character alphabet ``0123456789ABCDEFGHJKLMNPQRTUWXY``
(no I, O, Z, S, V):

====== ==================================================================
pos    meaning
====== ==================================================================
1      registration authority (登记管理部门代码), e.g. ``5`` civil affairs, ``9`` market regulation
2      organisation type (机构类别代码), meaning depends on the authority
3-8    administrative division (登记管理机关行政区划码), six digits, e.g. ``440304`` Futian
9-17   the organisation code (主体标识码, GB 11714); position 17 is its own check digit
18     the check character (校验码), a weighted sum modulo 31
====== ==================================================================

Input is normalised before checking: surrounding whitespace is stripped and letters are upper-cased,
so ``" 51440304mj0000001x "``-style input is judged as its upper-case form. :func:`normalize` exposes
the same normalisation for callers that want to store the canonical form.
"""

from __future__ import annotations

from typing import Final

ALPHABET: Final[str] = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUES: Final[dict[str, int]] = {ch: i for i, ch in enumerate(ALPHABET)}

# Position weights for the 18th character: 3**i mod 31 for i = 0..16.
WEIGHTS: Final[tuple[int, ...]] = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

# GB 11714 organisation code: weights for the 8 body characters; letters take A=10 … Z=35.
ORG_CODE_WEIGHTS: Final[tuple[int, ...]] = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_VALUES: Final[dict[str, int]] = {ch: i for i, ch in enumerate("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")}

LENGTH: Final[int] = 18

# Registration authorities (登记管理部门) and the organisation types each may register
# (GB 32100-2015 and its later amendments).
AUTHORITIES: Final[dict[str, str]] = {
    "1": "机构编制",
    "2": "外交",
    "3": "司法行政",
    "4": "文化",
    "5": "民政",
    "6": "旅游",
    "7": "宗教",
    "8": "工会",
    "9": "工商/市场监管",
    "A": "中央军委改革和编制办公室",
    "N": "农业",
    "Y": "其他",
}

ORG_TYPES: Final[dict[str, dict[str, str]]] = {
    "1": {"1": "机关", "2": "事业单位", "3": "中央编办直接管理机构编制的群众团体", "9": "其他"},
    "2": {"1": "外国常驻新闻机构", "9": "其他"},
    "3": {
        "1": "律师执业机构",
        "2": "公证处",
        "3": "基层法律服务所",
        "4": "司法鉴定机构",
        "5": "仲裁委员会",
        "9": "其他",
    },
    "4": {"1": "外国在华文化中心", "9": "其他"},
    "5": {"1": "社会团体", "2": "基金会", "3": "民办非企业单位", "9": "其他"},
    "6": {"1": "外国旅游部门常驻代表机构", "2": "港澳台地区旅游部门常驻内地（大陆）代表机构", "9": "其他"},
    "7": {"1": "宗教活动场所", "2": "宗教院校", "9": "其他"},
    "8": {"1": "基层工会", "9": "其他"},
    "9": {"1": "企业", "2": "个体工商户", "3": "农民专业合作社"},
    "A": {"1": "军队事业单位", "9": "其他"},
    "N": {"1": "组级集体经济组织", "2": "村级集体经济组织", "3": "乡镇级集体经济组织", "9": "其他"},
    "Y": {"1": "其他"},
}

FUTIAN_DIVISION: Final[str] = "440304"


def normalize(code: str) -> str:
    """Strip surrounding whitespace and upper-case: the canonical form stored and compared."""
    return code.strip().upper()


def organization_check_digit(body8: str) -> str:
    """The GB 11714 check digit for an 8-character organisation-code body ('0'-'9' or 'X')."""
    body = body8.upper()
    if len(body) != 8 or any(ch not in _ORG_VALUES for ch in body):
        raise ValueError(
            f"组织机构代码本体必须为 8 位数字或大写字母 (organisation code body must be 8 chars): {body8!r}"
        )
    total = sum(_ORG_VALUES[ch] * w for ch, w in zip(body, ORG_CODE_WEIGHTS, strict=True))
    check = 11 - total % 11
    if check == 10:
        return "X"
    if check == 11:
        return "0"
    return str(check)


def check_character(first17: str) -> str:
    """The 18th character for the first 17 characters of a code."""
    body = first17.upper()
    if len(body) != 17:
        raise ValueError(f"需要前 17 位 (need the first 17 characters, got {len(body)})")
    bad = [ch for ch in body if ch not in _VALUES]
    if bad:
        raise ValueError(f"含非法字符 (invalid character {bad[0]!r})")
    total = sum(_VALUES[ch] * w for ch, w in zip(body, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def validate(code: str) -> str | None:
    """None when ``code`` is a valid unified social credit code, else the reason (Chinese + English).

    The code is normalised first (see :func:`normalize`).
    """
    if not isinstance(code, str):
        return "代码必须为字符串 (code must be a string)"
    c = normalize(code)
    if len(c) != LENGTH:
        return f"长度应为 18 位 (length must be 18, got {len(c)})"
    for pos, ch in enumerate(c, start=1):
        if ch not in _VALUES:
            return f"第 {pos} 位含非法字符 (invalid character {ch!r} at position {pos})"
    authority, org_type = c[0], c[1]
    if authority not in AUTHORITIES:
        return f"登记管理部门代码无效 (unknown registration authority {authority!r})"
    if org_type not in ORG_TYPES[authority]:
        return f"机构类别代码无效 (organisation type {org_type!r} not valid for authority {authority!r})"
    division = c[2:8]
    if not division.isdigit():
        return f"行政区划码应为 6 位数字 (administrative division must be 6 digits, got {division!r})"
    expected_org = organization_check_digit(c[8:16])
    if c[16] != expected_org:
        return f"组织机构代码校验位错误 (organisation code check digit mismatch: expected {expected_org})"
    expected = check_character(c[:17])
    if c[17] != expected:
        return f"校验位错误 (check character mismatch: expected {expected})"
    return None


def is_valid(code: str) -> bool:
    return validate(code) is None


def make(authority: str, org_type: str, division: str, org_code8: str) -> str:
    """Build a valid code, computing the organisation-code check digit and the check character.

    ``org_code8`` is the 8-character body of the organisation code, over the credit-code alphabet.
    Raises ValueError on bad parts.
    """
    authority, org_type, body = authority.upper(), org_type.upper(), org_code8.upper()
    if authority not in AUTHORITIES:
        raise ValueError(f"登记管理部门代码无效 (unknown registration authority {authority!r})")
    if org_type not in ORG_TYPES[authority]:
        raise ValueError(f"机构类别代码无效 (organisation type {org_type!r} not valid for authority {authority!r})")
    if len(division) != 6 or not division.isdigit():
        raise ValueError(f"行政区划码应为 6 位数字 (administrative division must be 6 digits: {division!r})")
    if len(body) != 8 or any(ch not in _VALUES for ch in body):
        raise ValueError(f"组织机构代码本体无效 (organisation code body must be 8 credit-code chars: {org_code8!r})")
    first17 = authority + org_type + division + body + organization_check_digit(body)
    return first17 + check_character(first17)
