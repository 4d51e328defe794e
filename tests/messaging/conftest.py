from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.messaging.smtp_server import Mailbox, smtp_server
from tests.messaging.sms_fake import Gateway, sms_gateway


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as box:
        yield box


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    with sms_gateway() as g:
        yield g
