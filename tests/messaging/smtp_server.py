"""A real local SMTP server (aiosmtpd) for the email channel's tests: it keeps what it receives, requires the login
it is given, and refuses (550) or defers (451) the recipients it is told to."""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER = "notify@futian.example"
PASSWORD = "smtp-test-password"


@dataclass
class Mailbox:
    host: str = "127.0.0.1"
    port: int = 0
    messages: list[Message] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    defer: set[str] = field(default_factory=set)
    logins: int = 0

    @property
    def url(self) -> str:
        return f"smtp://{USER.replace('@', '%40')}:{PASSWORD}@{self.host}:{self.port}"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such user"
        if address in self.defer:
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(email.message_from_bytes(envelope.original_content or envelope.content))
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    box = Mailbox(port=_free_port())

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login.decode(), auth_data.password.decode()) == (
            USER,
            PASSWORD,
        )
        if ok:
            box.logins += 1
        return AuthResult(success=ok, handled=False)

    controller = Controller(
        box,
        hostname=box.host,
        port=box.port,
        authenticator=authenticate,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


def text_of(message: Message) -> str:
    """The decoded subject and body of a received email."""
    from email.header import decode_header, make_header

    subject = str(make_header(decode_header(message["Subject"] or "")))
    parts = [p for p in message.walk() if p.get_content_type() == "text/plain"]
    body = "".join(str(p.get_payload(decode=True).decode(p.get_content_charset() or "utf-8")) for p in parts)  # type: ignore[union-attr]
    return subject + "\n" + body
