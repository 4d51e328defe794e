from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from marketplace.settings import Settings
from tests.messaging import sms_fake
from tests.messaging.sms_fake import Gateway, sms_gateway
from tests.messaging.smtp_server import Mailbox, smtp_server
from tests.support.databases import test_settings

PUBLIC_URL = "https://care.futian.example"


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as box:
        yield box


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    with sms_gateway() as g:
        yield g


@pytest.fixture
def settings(database_url: str, tmp_path: Path, mailbox: Mailbox, gateway: Gateway) -> Settings:
    """The tests' settings with both channels on: email into aiosmtpd, SMS into the fake gateway."""
    return dataclasses.replace(
        test_settings(database_url, tmp_path),
        public_url=PUBLIC_URL,
        smtp_url=mailbox.url,
        mail_from="福田区儿童关爱平台 <notify@futian.example>",
        sms_url=gateway.url,
        sms_access_key_id=sms_fake.ACCESS_KEY_ID,
        sms_access_key_secret=sms_fake.ACCESS_KEY_SECRET,
        sms_sign_name=sms_fake.SIGN_NAME,
    )
