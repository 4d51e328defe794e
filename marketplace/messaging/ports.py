"""The ways a notification leaves the app: a ``Channel`` sends one ``Message`` and answers a receipt id, or raises
``TransientFailure`` (try again later) or ``PermanentFailure`` (record it; trying again cannot help).

Two adapters: ``EmailChannel`` (SMTP with the standard library, in a worker thread: ``smtp://`` with STARTTLS when
the server offers it, ``smtps://`` over TLS; a login when the URL carries one) and ``AliyunSmsChannel`` (Alibaba
Cloud SMS, dysmsapi ``SendSms``, RPC style with the HMAC-SHA1 signature v1). A message holds only what
``marketplace.messaging.templates`` rendered: never a child's identity."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import smtplib
import ssl
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Final, Protocol
from urllib.parse import quote, unquote, urlsplit

import anyio
import requests

from marketplace.settings import Settings

SMTP_TIMEOUT_SECONDS: Final = 20
SMS_TIMEOUT_SECONDS: Final = 10
SMS_API_VERSION: Final = "2017-05-25"
SMS_REGION: Final = "cn-hangzhou"
# The gateway's codes worth another try later (throttling, the gateway's own faults); any other code is permanent.
SMS_TRANSIENT_CODES: Final = frozenset(
    {
        "isv.BUSINESS_LIMIT_CONTROL",
        "Throttling",
        "Throttling.User",
        "isp.SYSTEM_ERROR",
        "isp.RAM_PERMISSION_DENY",
        "ServiceUnavailable",
        "InternalError",
    }
)


class DeliveryFailure(Exception):
    """A send that did not happen; ``code`` is short and never holds the message."""

    def __init__(self, code: str, reason: str = "") -> None:
        super().__init__(f"{code}: {reason}" if reason else code)
        self.code = code
        self.reason = reason


class TransientFailure(DeliveryFailure):
    """Worth trying again later: the server busy or throttling, the connection lost."""


class PermanentFailure(DeliveryFailure):
    """Trying again cannot help: the address refused, the template or the credentials wrong."""


@dataclass(frozen=True)
class Message:
    """One rendered notification for one address. ``subject``/``body`` for email, ``template_code``/``params`` for
    an SMS gateway that sends approved templates only."""

    to: str
    kind: str
    subject: str
    body: str
    template_code: str = ""
    params: Mapping[str, str] = field(default_factory=dict)


class Channel(Protocol):
    name: str

    async def send(self, message: Message) -> str:
        """Send ``message``; the provider's receipt id. Raises ``TransientFailure`` or ``PermanentFailure``."""
        ...


# ---------------------------------------------------------------- email


@dataclass(frozen=True)
class SmtpTarget:
    ssl: bool
    host: str
    port: int
    username: str = field(default="", repr=False)
    password: str = field(default="", repr=False)

    @classmethod
    def parse(cls, url: str) -> SmtpTarget:
        parts = urlsplit(url)
        secure = parts.scheme.lower() == "smtps"
        return cls(
            ssl=secure,
            host=parts.hostname or "localhost",
            port=parts.port or (465 if secure else 25),
            username=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
        )


class EmailChannel:
    name = "email"

    def __init__(self, url: str, sender: str, *, tls_context: ssl.SSLContext | None = None) -> None:
        self.target = SmtpTarget.parse(url)
        self.sender = sender
        self.tls_context = tls_context

    def __repr__(self) -> str:
        return f"EmailChannel({self.target.host}:{self.target.port})"

    async def send(self, message: Message) -> str:
        return await anyio.to_thread.run_sync(self._send, message)

    def _compose(self, message: Message) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.to
        mail["Subject"] = message.subject
        domain = self.sender.rpartition("@")[2] or "localhost"
        mail["Message-ID"] = make_msgid(domain=domain)
        mail.set_content(message.body)
        return mail

    def _send(self, message: Message) -> str:
        mail = self._compose(message)
        t = self.target
        context = self.tls_context or ssl.create_default_context()
        try:
            smtp: smtplib.SMTP
            if t.ssl:
                smtp = smtplib.SMTP_SSL(t.host, t.port, timeout=SMTP_TIMEOUT_SECONDS, context=context)
            else:
                smtp = smtplib.SMTP(t.host, t.port, timeout=SMTP_TIMEOUT_SECONDS)
            with smtp:
                smtp.ehlo()
                if not t.ssl and smtp.has_extn("starttls"):
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if t.username:
                    smtp.login(t.username, t.password)
                smtp.send_message(mail)
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentFailure("smtp_auth", f"{exc.smtp_code}") from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            if codes and all(400 <= c < 500 for c in codes):
                raise TransientFailure("smtp_recipient_deferred", str(codes[0])) from None
            raise PermanentFailure("smtp_recipient_refused", str(codes[0] if codes else "")) from None
        except smtplib.SMTPResponseException as exc:
            if 400 <= exc.smtp_code < 500:
                raise TransientFailure("smtp_deferred", str(exc.smtp_code)) from None
            raise PermanentFailure("smtp_refused", str(exc.smtp_code)) from None
        except (smtplib.SMTPException, OSError) as exc:
            # Disconnected, refused, timed out, a TLS handshake failed: the server may be back later.
            raise TransientFailure("smtp_unreachable", type(exc).__name__) from None
        return str(mail["Message-ID"])


# ---------------------------------------------------------------- SMS: Alibaba Cloud dysmsapi


def percent_encode(value: str) -> str:
    """Alibaba Cloud's POP encoding: RFC 3986 (UTF-8; only A-Z a-z 0-9 - _ . ~ left as they are)."""
    return quote(value, safe="-_.~")


def string_to_sign(method: str, params: Mapping[str, str]) -> str:
    canonical = "&".join(f"{percent_encode(k)}={percent_encode(params[k])}" for k in sorted(params))
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonical)}"


def signature(secret: str, method: str, params: Mapping[str, str]) -> str:
    """The v1 signature of ``params`` (all but ``Signature``): base64 of HMAC-SHA1 keyed with ``secret + "&"``."""
    digest = hmac.new((secret + "&").encode(), string_to_sign(method, params).encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def sms_timestamp(now: dt.datetime | None = None) -> str:
    """ISO 8601 in UTC to the second, as the gateway wants it: 2026-12-03T12:00:00Z (real time: the gateway
    refuses a request more than 15 minutes off its own clock)."""
    wall = now or dt.datetime.now(dt.UTC)  # noqa: TID251 -- the gateway checks the stamp against the real time
    return wall.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class AliyunSmsChannel:
    name = "sms"

    def __init__(self, url: str, access_key_id: str, access_key_secret: str, sign_name: str) -> None:
        self.url = url
        self.access_key_id = access_key_id
        self._secret = access_key_secret
        self.sign_name = sign_name
        self._http = requests.Session()

    def __repr__(self) -> str:
        return f"AliyunSmsChannel({self.url})"

    def signed_params(self, message: Message) -> dict[str, str]:
        params = {
            "AccessKeyId": self.access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "PhoneNumbers": message.to,
            "RegionId": SMS_REGION,
            "SignName": self.sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "TemplateCode": message.template_code,
            "TemplateParam": json.dumps(dict(message.params), ensure_ascii=False, separators=(",", ":")),
            "Timestamp": sms_timestamp(),
            "Version": SMS_API_VERSION,
        }
        params["Signature"] = signature(self._secret, "POST", params)
        return params

    async def send(self, message: Message) -> str:
        return await anyio.to_thread.run_sync(self._send, message)

    def _send(self, message: Message) -> str:
        params = self.signed_params(message)
        body = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in params.items())
        try:
            answer = self._http.post(
                self.url,
                data=body.encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
                timeout=SMS_TIMEOUT_SECONDS,
            )
        except requests.RequestException as exc:
            raise TransientFailure("sms_unreachable", type(exc).__name__) from None
        try:
            result = answer.json()
        except ValueError:
            result = {}
        code = str(result.get("Code", "")) if isinstance(result, dict) else ""
        if answer.status_code >= 500 and not code:
            raise TransientFailure("sms_gateway_error", str(answer.status_code))
        if code == "OK":
            return str(result.get("BizId", ""))
        reason = str(result.get("Message", ""))[:200] if isinstance(result, dict) else ""
        if code in SMS_TRANSIENT_CODES or (not code and answer.status_code == 429):
            raise TransientFailure(code or "sms_throttled", reason)
        raise PermanentFailure(code or f"sms_http_{answer.status_code}", reason)


def channels(settings: Settings) -> dict[str, Channel]:
    """The channels the settings configure (none when nothing is set)."""
    out: dict[str, Channel] = {}
    if settings.smtp_url and settings.mail_from:
        out["email"] = EmailChannel(settings.smtp_url, settings.mail_from)
    if settings.sms_url and settings.sms_access_key_id and settings.sms_access_key_secret:
        out["sms"] = AliyunSmsChannel(
            settings.sms_url, settings.sms_access_key_id, settings.sms_access_key_secret, settings.sms_sign_name
        )
    return out
