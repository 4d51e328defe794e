"""The password policy: length, common passwords, the username, the current password, guessability."""

from __future__ import annotations

import pytest

from marketplace.auth.passwords import hash_password
from marketplace.auth.policy import MAX_LENGTH, check_new_password
from marketplace.errors import Invalid
from tests.auth.support import GOOD, GOOD2


def refusal(
    password: str, username: str = "zhangwei", current_hash: str | None = None, user_inputs: tuple[str, ...] = ()
) -> str:
    with pytest.raises(Invalid) as caught:
        check_new_password(password, username=username, current_hash=current_hash, user_inputs=user_inputs)
    assert caught.value.errors and caught.value.errors[0]["field"] == "new_password"
    return caught.value.detail


@pytest.mark.parametrize("password", [GOOD, GOOD2, "我的猫叫小黑-喜欢晒太阳", "correct horse battery staple"])
def test_good_passwords_pass(password: str) -> None:
    check_new_password(password, username="zhangwei")


def test_too_short_and_too_long() -> None:
    assert "至少需要 10 个字符" in refusal("Ab3$xyz!q")
    assert "不能超过" in refusal("x" * (MAX_LENGTH + 1))
    assert "空格" in refusal(" " * 12)


@pytest.mark.parametrize("password", ["password123", "1234567890", "qwertyuiop", "iloveyou12", "PASSWORD123"])
def test_common_passwords_are_refused(password: str) -> None:
    detail = refusal(password)
    assert "常用密码" in detail or "容易被猜到" in detail


def test_the_username_may_not_be_in_it() -> None:
    assert "用户名" in refusal("ZhangWei-river-tulip-81", username="zhangwei")


def test_not_the_current_password() -> None:
    current = hash_password(GOOD)
    assert "相同" in refusal(GOOD, current_hash=current)
    check_new_password(GOOD2, username="zhangwei", current_hash=current)


@pytest.mark.parametrize("password", ["aaaaaaaaaaaa", "abcdefghijkl", "asdfghjkl;'", "1990-01-01abc"])
def test_easy_to_guess_is_refused_in_chinese(password: str) -> None:
    detail = refusal(password)
    assert "容易被猜到" in detail or "常用密码" in detail


def test_what_is_known_about_the_person_counts() -> None:
    # A phone number is a guess anyone who knows the person tries first.
    check_new_password("zx-13800138000", username="lisi")
    assert "容易被猜到" in refusal("zx-13800138000", username="lisi", user_inputs=("13800138000",))
