"""The channels against real local servers: email into aiosmtpd (login, refused and deferred recipients, a server
gone), SMS into the fake Alibaba Cloud gateway (its signature checked, throttling transient, a bad template or a
wrong key permanent)."""

from __future__ import annotations

import pytest

from marketplace.messaging import ports
from marketplace.messaging.ports import AliyunSmsChannel, EmailChannel, Message, PermanentFailure, TransientFailure
from tests.messaging import sms_fake
from tests.messaging.sms_fake import Gateway
from tests.messaging.smtp_server import Mailbox, text_of
from tests.support import figures

SUITE = "messaging channels"
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def _message(to: str, code: str = "SMS_URGENT") -> Message:
    return Message(
        to=to,
        kind="mandatory_report",
        subject="【福田区儿童关爱平台】强制报告",
        body="您有1条新的“强制报告”。\n请登录平台查看和处理：http://x/admin/mandatory-reports",
        template_code=code,
        params={"label": "强制报告", "count": "1", "deadline": "", "link": "http://x/admin/mandatory-reports"},
    )


def _sms(gateway: Gateway, secret: str = sms_fake.ACCESS_KEY_SECRET) -> AliyunSmsChannel:
    return AliyunSmsChannel(gateway.url, sms_fake.ACCESS_KEY_ID, secret, sms_fake.SIGN_NAME)


async def test_email_is_delivered_with_login(mailbox: Mailbox) -> None:
    channel = EmailChannel(mailbox.url, "平台通知 <notify@futian.example>")
    receipt = await channel.send(_message("director@futian.example"))
    assert receipt.startswith("<") and mailbox.logins == 1
    assert mailbox.envelopes == [("notify@futian.example", ["director@futian.example"])]
    text = text_of(mailbox.messages[0])
    assert "强制报告" in text and "/admin/mandatory-reports" in text
    assert mailbox.messages[0]["Message-ID"] == receipt


async def test_email_failures_are_typed(mailbox: Mailbox) -> None:
    channel = EmailChannel(mailbox.url, "notify@futian.example")
    mailbox.refuse.add("gone@futian.example")
    mailbox.defer.add("busy@futian.example")
    with pytest.raises(PermanentFailure) as refused:
        await channel.send(_message("gone@futian.example"))
    assert refused.value.code == "smtp_recipient_refused"
    with pytest.raises(TransientFailure) as deferred:
        await channel.send(_message("busy@futian.example"))
    assert deferred.value.code == "smtp_recipient_deferred"
    wrong = EmailChannel(mailbox.url.replace("smtp-test-password", "wrong"), "notify@futian.example")
    with pytest.raises(PermanentFailure) as auth:
        await wrong.send(_message("director@futian.example"))
    assert auth.value.code == "smtp_auth"
    gone = EmailChannel(f"smtp://127.0.0.1:{mailbox.port + 1 if mailbox.port < 65535 else 1}", "n@futian.example")
    with pytest.raises(TransientFailure):
        await gone.send(_message("director@futian.example"))
    assert mailbox.messages == []
    figures.record(SUITE, "email failures injected", 4)


async def test_sms_is_signed_and_sent(gateway: Gateway) -> None:
    receipt = await _sms(gateway).send(_message("13800138000"))
    assert receipt == "000001^0"
    assert gateway.sent == [
        {
            "to": "13800138000",
            "template": "SMS_URGENT",
            "params": {"label": "强制报告", "count": "1", "deadline": "", "link": "http://x/admin/mandatory-reports"},
            "biz": "000001^0",
        }
    ]


def test_sms_string_to_sign_is_the_documented_one() -> None:
    """The string to sign of the worked example of Alibaba Cloud SMS's "Signature method" page."""
    params = {
        "AccessKeyId": "testid",
        "Action": "SendMessageToGlobe",
        "Format": "XML",
        "From": "Alicloud",
        "Message": "Hello",
        "RegionId": "ap-southeast-1",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "57acef20-c1d8-11eb-8c08-db81fda24dcc",
        "SignatureVersion": "1.0",
        "Timestamp": "2021-05-31T06:20:49Z",
        "To": "861245567****",
        "Version": "2018-05-01",
    }
    assert ports.string_to_sign("GET", params) == (
        "GET&%2F&AccessKeyId%3Dtestid%26Action%3DSendMessageToGlobe%26Format%3DXML%26From%3DAlicloud%26Message%3DHello"
        "%26RegionId%3Dap-southeast-1%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D57acef20-c1d8-11eb-8c08-"
        "db81fda24dcc%26SignatureVersion%3D1.0%26Timestamp%3D2021-05-31T06%253A20%253A49Z%26To%3D861245567%252A%252A"
        "%252A%252A%26Version%3D2018-05-01"
    )


def test_sms_signature_of_the_sendsms_example() -> None:
    """The SendSms example of the documentation of the signature ("HTTP协议及签名": AccessKey ``testId``/``testSecret``)."""
    params = {
        "AccessKeyId": "testId",
        "Action": "SendSms",
        "Format": "XML",
        "OutId": "123",
        "PhoneNumbers": "15300000001",
        "RegionId": "cn-hangzhou",
        "SignName": "阿里云短信测试专用",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
        "SignatureVersion": "1.0",
        "TemplateCode": "SMS_71390007",
        "TemplateParam": '{"customer":"test"}',
        "Timestamp": "2017-07-12T02:42:19Z",
        "Version": "2017-05-25",
    }
    assert ports.signature("testSecret", "GET", params) == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


async def test_sms_failures_are_typed(gateway: Gateway) -> None:
    gateway.fail_next.append("isv.BUSINESS_LIMIT_CONTROL")
    with pytest.raises(TransientFailure) as throttled:
        await _sms(gateway).send(_message("13800138000"))
    assert throttled.value.code == "isv.BUSINESS_LIMIT_CONTROL"
    with pytest.raises(PermanentFailure) as template:
        await _sms(gateway).send(_message("13800138000", code="SMS_NOPE"))
    assert template.value.code == "isv.SMS_TEMPLATE_ILLEGAL"
    with pytest.raises(PermanentFailure) as signature:
        await _sms(gateway, secret="not-the-secret").send(_message("13800138000"))
    assert signature.value.code == "SignatureDoesNotMatch"
    gone = AliyunSmsChannel("http://127.0.0.1:9/", "id", "secret", "sign")
    with pytest.raises(TransientFailure):
        await gone.send(_message("13800138000"))
    assert gateway.sent == []
    figures.record(SUITE, "sms failures injected", 4)


def test_secrets_stay_out_of_reprs() -> None:
    sms = AliyunSmsChannel("http://127.0.0.1:9/", "id", "very-secret-value", "sign")
    email = EmailChannel("smtps://u:very-secret-pass@host:465", "a@b.cn")
    assert (
        "very-secret" not in repr(sms) and "very-secret" not in repr(email) and "very-secret" not in repr(email.target)
    )


def test_settings_keep_the_channel_secrets_out_of_their_repr() -> None:
    from marketplace.settings import load_settings

    settings = load_settings(
        {
            "MARKETPLACE_SMTP_URL": "smtps://notify:mail-pass-4711@smtp.example.com:465",
            "MARKETPLACE_SMS_URL": "https://dysmsapi.aliyuncs.com/",
            "MARKETPLACE_SMS_ACCESS_KEY_ID": "LTAI-id",
            "MARKETPLACE_SMS_ACCESS_KEY_SECRET": "sms-secret-4711",
            "MARKETPLACE_SMS_SIGN_NAME": "福田儿童关爱",
        }
    )
    assert settings.smtp_url and settings.sms_access_key_secret == "sms-secret-4711"
    assert "4711" not in repr(settings)
    assert set(ports.channels(settings)) == {"sms"}  # email needs its sender too
