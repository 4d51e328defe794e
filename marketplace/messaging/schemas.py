"""Request and response bodies of a person's notification preferences (``marketplace.messaging``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec

Groups = Literal["off", "urgent", "reminders", "all"]
# HH:MM in the district's local time (Asia/Shanghai).
Clock = Annotated[str, msgspec.Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", examples=["22:00"])]


class PreferencesIn(msgspec.Struct, forbid_unknown_fields=True):
    """Which notifications reach me by email and by SMS, where, and when not (quiet hours: both times, or neither
    for none; urgent ones are sent in quiet hours too)."""

    email_groups: Groups = "off"
    sms_groups: Groups = "off"
    email: Annotated[str, msgspec.Meta(max_length=254)] = ""
    # A mainland mobile number, 11 digits (1[3-9]…); empty: the account's phone.
    mobile: Annotated[str, msgspec.Meta(max_length=11)] = ""
    quiet_start: Clock | None = "22:00"
    quiet_end: Clock | None = "07:00"


class PreferencesOut(msgspec.Struct):
    email_groups: Groups
    sms_groups: Groups
    email: str
    mobile: str
    quiet_start: str | None
    quiet_end: str | None
    # Whether the platform has the channel configured (MARKETPLACE_SMTP_URL, MARKETPLACE_SMS_URL).
    email_available: bool
    sms_available: bool
    email_since: dt.datetime | None
    sms_since: dt.datetime | None


class TestIn(msgspec.Struct, forbid_unknown_fields=True):
    channel: Literal["email", "sms"]


class TestOut(msgspec.Struct):
    channel: str
    to: str
    receipt: str


class ChannelCount(msgspec.Struct):
    channel: str
    status: str
    count: int


class FailureOut(msgspec.Struct):
    id: int
    channel: str
    kind: str
    recipient_id: int
    recipient_name: str
    attempts: int
    error: str
    created_at: dt.datetime


class DeliveryStats(msgspec.Struct):
    since: dt.datetime
    counts: list[ChannelCount]
    failures: list[FailureOut]
