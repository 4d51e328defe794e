"""The password policy: what a person may choose as their own password.

Long enough (10 to 200 characters), not one of the passwords people use most, not containing the username, not
the same as the current one, and not easy to guess by the usual means (a minimum zxcvbn score of 3 of 4).

Why a dependency (``zxcvbn``, Dropbox's estimator): "not in a list of common passwords" is only as good as the list,
and a useful list is tens of thousands of entries (30,000 leaked passwords, plus the names, words and keyboard walks
that people pass off as passwords) that we would otherwise vendor and keep current ourselves; zxcvbn ships those
dictionaries and also catches what a list cannot (``Password2024!``, ``qwertyuiop``, ``director-1986``), in pure
Python with no dependencies of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from zxcvbn import zxcvbn
from zxcvbn.matching import RANKED_DICTIONARIES

from marketplace.auth.passwords import verify_password
from marketplace.errors import Invalid

MIN_LENGTH: Final = 10
MAX_LENGTH: Final = 200
MIN_SCORE: Final = 3
# zxcvbn refuses longer input; beyond 72 characters a password is not guessed by its tail.
_SCORED_LENGTH: Final = 72
FIELD: Final = "new_password"

# zxcvbn's warnings, in the words our users read.
_WARNINGS: Final[dict[str, str]] = {
    "Straight rows of keys are easy to guess.": "键盘上连续一排的按键很容易被猜到",
    "Short keyboard patterns are easy to guess.": "简短的键盘图案很容易被猜到",
    'Repeats like "aaa" are easy to guess.': "“aaa”这样的重复字符很容易被猜到",
    'Repeats like "abcabcabc" are only slightly harder to guess than "abc".': "“abcabcabc”这样的重复并不比“abc”难猜多少",
    'Sequences like "abc" or "6543" are easy to guess.': "“abc”“6543”这样的顺序字符很容易被猜到",
    "Recent years are easy to guess.": "近些年的年份很容易被猜到",
    "Dates are often easy to guess.": "日期往往很容易被猜到",
    "This is a top-10 common password.": "这是最常用的十个密码之一",
    "This is a top-100 common password.": "这是最常用的一百个密码之一",
    "This is a very common password.": "这是非常常用的密码",
    "This is similar to a commonly used password.": "这与一个常用密码很相似",
    "A word by itself is easy to guess.": "单独一个单词很容易被猜到",
    "Names and surnames by themselves are easy to guess.": "单独的姓名很容易被猜到",
    "Common names and surnames are easy to guess.": "常见的姓名很容易被猜到",
}


def _refuse(message: str) -> Invalid:
    return Invalid.field(FIELD, message)


def _is_common(password: str) -> bool:
    common: dict[str, int] = RANKED_DICTIONARIES["passwords"]
    return password.lower() in common or password.strip().lower() in common


def strength(password: str, user_inputs: Iterable[str] = ()) -> dict[str, Any]:
    """zxcvbn's estimate (``score`` 0-4, ``feedback``) of the first 72 characters."""
    result: dict[str, Any] = zxcvbn(password[:_SCORED_LENGTH], user_inputs=[s for s in user_inputs if s])
    return result


def check_new_password(
    password: str,
    *,
    username: str,
    current_hash: str | None = None,
    user_inputs: Iterable[str] = (),
) -> None:
    """Raise ``Invalid`` (422, field ``new_password``) with the first rule ``password`` breaks, in Chinese.

    ``current_hash`` is the account's present password hash (the new one must differ); ``user_inputs`` are other
    words about the person (real name, phone) that make a password easy to guess for whoever knows them.
    """
    if len(password) < MIN_LENGTH:
        raise _refuse(f"密码至少需要 {MIN_LENGTH} 个字符 (at least {MIN_LENGTH} characters)")
    if len(password) > MAX_LENGTH:
        raise _refuse(f"密码不能超过 {MAX_LENGTH} 个字符 (at most {MAX_LENGTH} characters)")
    if not password.strip():
        raise _refuse("密码不能全是空格 (not only spaces)")
    if _is_common(password):
        raise _refuse("这是常用密码，很容易被猜到，请换一个 (this is a common password)")
    name = username.strip().lower()
    if name and name in password.lower():
        raise _refuse("密码不能包含用户名 (must not contain the username)")
    if current_hash and verify_password(current_hash, password):
        raise _refuse("新密码不能与当前密码相同 (must differ from the current password)")
    result = strength(password, [username, *user_inputs])
    if int(result["score"]) < MIN_SCORE:
        warning = _WARNINGS.get(str(result["feedback"].get("warning") or ""), "")
        hint = f"{warning}。" if warning else ""
        raise _refuse(
            f"密码太容易被猜到：{hint}请使用更长的、由几个不常见词语组成的密码 "
            f"(too easy to guess: score {result['score']} of 4, needs {MIN_SCORE})"
        )
