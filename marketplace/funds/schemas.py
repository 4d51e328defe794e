from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec

from marketplace.ids import BodyId as PositiveId

Fen = Annotated[int, msgspec.Meta(ge=1, le=10_000_000_000)]
GiftFen = Annotated[int, msgspec.Meta(ge=100, le=1_000_000_000, description="整数分；最少 1 元")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Note = Annotated[str, msgspec.Meta(max_length=500)]
Email = Annotated[str, msgspec.Meta(pattern=r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{1,20}$", max_length=200)]
Phone = Annotated[str, msgspec.Meta(pattern=r"^[0-9+\-() ]{5,40}$")]
Reference = Annotated[str, msgspec.Meta(min_length=1, max_length=120, pattern=r"^\S(.*\S)?$")]
Purpose = Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
Code = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]


class DonorIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    kind: Literal["individual", "enterprise", "organization"] = "individual"
    email: Email | None = None
    phone: Phone | None = None
    anonymous: bool | None = None
    # 统一社会信用代码 of an enterprise or organization donor: 18 characters with its check character.
    credit_code: Annotated[str, msgspec.Meta(min_length=1, max_length=40)] | None = None


class DesignationIn(msgspec.Struct, forbid_unknown_fields=True):
    category: Code | None = None
    street_id: PositiveId | None = None
    service_id: PositiveId | None = None
    child_category: Code | None = None  # a child group (儿童群体), by child category code


class DonationIn(msgspec.Struct, forbid_unknown_fields=True):
    fund_id: PositiveId
    amount_fen: GiftFen
    donor: DonorIn
    designation: DesignationIn | None = None


class DonationStarted(msgspec.Struct):
    donation_id: int
    client_secret: str
    status: str
    payment_intent_id: str


class OfflineDonationIn(msgspec.Struct, forbid_unknown_fields=True):
    fund_id: PositiveId
    amount_fen: Fen
    channel: Literal["bank_transfer", "cash", "in_kind"]
    donor: DonorIn
    received_on: dt.date
    reference: Reference | None = None
    designation: DesignationIn | None = None
    note: Note = ""


class OfflineRefundIn(msgspec.Struct, forbid_unknown_fields=True):
    amount_fen: Fen
    reference: Reference
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]


class PurposeChangeIn(msgspec.Struct, forbid_unknown_fields=True):
    purpose: Purpose
    consent_note: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    consent_reference: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class DonationOut(msgspec.Struct):
    id: int
    fund_id: int
    donor_id: int
    donor_name: str
    amount_fen: int
    refunded_fen: int
    fee_fen: int
    channel: str
    channel_label: str
    status: str
    status_label: str
    purpose: str
    purpose_label: str
    external_id: str | None
    received_on: dt.date | None
    receipt_no: str | None
    note: str
    created_at: dt.datetime


class DonationList(msgspec.Struct):
    items: list[DonationOut]
    total: int


class DonorOut(msgspec.Struct):
    id: int
    name: str
    kind: str
    email: str | None
    phone: str | None
    credit_code: str | None
    consent_to_name: bool
    total_fen: int
    donations: int
    receipts: list[str]


class DonorList(msgspec.Struct):
    items: list[DonorOut]
    total: int


class PurposeBalance(msgspec.Struct):
    purpose: str
    label: str
    income_fen: int
    spent_fen: int
    available_fen: int


class FundOut(msgspec.Struct):
    id: int
    code: str
    name: str
    kind: str
    kind_label: str
    street_id: int | None
    street_name: str
    year: int | None
    balance_fen: int
    cash_fen: int
    in_kind_fen: int
    income_fen: int
    spent_fen: int
    fees_fen: int
    restricted_balance_fen: int
    unrestricted_balance_fen: int
    # What approved micro-projects (民生微实事项目) hold, not yet paid: part of the restricted balance.
    held_fen: int
    purposes: list[PurposeBalance]


class FundIn(msgspec.Struct, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{1,39}$")]
    name: Name
    kind: Literal["public_welfare", "micro_project", "street_foundation", "welfare_lottery", "other"] = "public_welfare"
    description: Annotated[str, msgspec.Meta(max_length=2000)] = ""
    public: bool = True
    # A street foundation's and a micro-project fund's street; a micro-project fund's year.
    street_id: PositiveId | None = None
    year: Annotated[int, msgspec.Meta(ge=2000, le=2100)] | None = None


class FundAllocationIn(msgspec.Struct, forbid_unknown_fields=True):
    """The district's allocation to a street's micro-project fund; ``key`` is its document number (拨款文号)."""

    amount_fen: Fen
    key: Annotated[str, msgspec.Meta(min_length=1, max_length=120, pattern=r"^\S(.*\S)?$")]
    received_on: dt.date | None = None
    memo: Note = ""


class FundAllocationOut(msgspec.Struct):
    entry_id: int
    fund_id: int
    key: str
    amount_fen: int
    received_on: dt.date
    memo: str


class FundAllocationList(msgspec.Struct):
    items: list[FundAllocationOut]
    total: int
    allocated_fen: int


class FundProjectIn(msgspec.Struct, forbid_unknown_fields=True):
    title: Name
    category: Code
    requested_fen: Fen
    community_id: PositiveId | None = None
    description: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class FundProjectApproveIn(msgspec.Struct, forbid_unknown_fields=True):
    approved_fen: Fen | None = None
    approved_on: dt.date | None = None


class FundProjectStartIn(msgspec.Struct, forbid_unknown_fields=True):
    started_on: dt.date | None = None


class FundProjectCompleteIn(msgspec.Struct, forbid_unknown_fields=True):
    paid_fen: Fen | None = None
    completed_on: dt.date | None = None
    memo: Note = ""


class FundProjectOut(msgspec.Struct):
    id: int
    fund_id: int
    community_id: int | None
    title: str
    category: str
    category_label: str
    requested_fen: int
    approved_fen: int | None
    paid_fen: int | None
    held_fen: int
    status: str
    status_label: str
    description: str
    approved_on: dt.date | None
    started_on: dt.date | None
    completed_on: dt.date | None
    disbursement_id: int | None


class FundProjectList(msgspec.Struct):
    items: list[FundProjectOut]
    total: int


class FundList(msgspec.Struct):
    items: list[FundOut]
    total: int


class PostingOut(msgspec.Struct):
    account: str
    amount_fen: int


class EntryOut(msgspec.Struct):
    id: int
    idempotency_key: str
    memo: str
    source: str
    occurred_on: dt.date
    reverses_id: int | None
    postings: list[PostingOut]


class EntryList(msgspec.Struct):
    items: list[EntryOut]
    total: int


class DisbursementIn(msgspec.Struct, forbid_unknown_fields=True):
    amount_fen: Fen
    purpose: Purpose
    memo: Note = ""
    service_id: PositiveId | None = None
    referral_id: PositiveId | None = None
    paid_on: dt.date | None = None


class ReasonIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]


class DisbursementOut(msgspec.Struct):
    id: int
    fund_id: int
    amount_fen: int
    purpose: str
    purpose_label: str
    service_id: int | None
    referral_id: int | None
    memo: str
    paid_on: dt.date
    entry_id: int | None
    status: str


class DisbursementList(msgspec.Struct):
    items: list[DisbursementOut]
    total: int


class PublicPurpose(msgspec.Struct):
    purpose: str
    label: str
    income_fen: int
    spent_fen: int


class PublicFundOut(msgspec.Struct):
    id: int
    name: str
    kind: str
    kind_label: str
    street_name: str
    income_fen: int
    refunded_fen: int
    spent_fen: int
    fees_fen: int
    balance_fen: int
    donations: int
    donors: int
    spending_by_purpose: list[PublicPurpose]
    income_by_purpose: list[PublicPurpose]
    as_of: dt.date


class PublicFundSummary(msgspec.Struct):
    """One fund in the public list of charity resources: what kind, which street, and its totals only."""

    id: int
    name: str
    kind: str
    kind_label: str
    street_name: str
    year: int | None
    income_fen: int
    spent_fen: int
    balance_fen: int


class PublicFundList(msgspec.Struct):
    items: list[PublicFundSummary]
    total: int
    as_of: dt.date


class HonourEntry(msgspec.Struct):
    name: str
    kind: str
    total_fen: int
    donations: int


class HonourRoll(msgspec.Struct):
    fund_id: int
    items: list[HonourEntry]
    anonymous_donors: int
    anonymous_total_fen: int


class MonthChannel(msgspec.Struct):
    month: str
    channel: str
    income_fen: int
    refunds_fen: int
    donations: int


class FundReport(msgspec.Struct):
    fund_id: int
    fund_name: str
    kind: str
    kind_label: str
    street_name: str
    income_by_month: list[MonthChannel]
    spending_by_purpose: list[PublicPurpose]
    balance_fen: int
    restricted_balance_fen: int
    unrestricted_balance_fen: int
    fees_fen: int


class PublicDisbursement(msgspec.Struct):
    """One disbursement as the public sees it: when, to which project, how much, from which purpose."""

    id: int
    paid_on: dt.date
    service_id: int | None
    service_name: str
    organization_name: str
    through_referral: bool
    amount_fen: int
    purpose: str
    purpose_label: str
    memo: str


class PublicDisbursementList(msgspec.Struct):
    items: list[PublicDisbursement]
    total: int


class PublicDonation(msgspec.Struct):
    """One gift as the public sees it: the donor's name only with their consent, else 爱心人士 (anonymous)."""

    received_on: dt.date | None
    donor_name: str
    anonymous: bool
    amount_fen: int
    refunded_fen: int
    channel_label: str
    purpose: str
    purpose_label: str
    receipt_no: str | None


class PublicDonationList(msgspec.Struct):
    items: list[PublicDonation]
    total: int


class DisclosureIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: Literal["fundraising", "projects", "annual_report"]
    period: Annotated[str, msgspec.Meta(min_length=4, max_length=7, description="季度 2026-Q1，或年度 2025")]
    published_on: dt.date
    channel: Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=r"\S")]
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"\S")]
    url: Annotated[str, msgspec.Meta(max_length=500, pattern=r"^(https?://\S+)?$")] = ""


class DisclosureOut(msgspec.Struct):
    id: int
    fund_id: int
    kind: str
    kind_label: str
    period: str
    period_start: dt.date
    period_end: dt.date
    published_on: dt.date
    channel: str
    url: str
    title: str
    publisher_name: str


class DisclosureDue(msgspec.Struct):
    """One period of one duty: when it is due, and whether (and when, where, by whom) it was published."""

    kind: str
    kind_label: str
    source: str
    period: str
    period_start: dt.date
    period_end: dt.date
    due_on: dt.date
    status: str  # published | overdue | due
    status_label: str
    late: bool
    publication: DisclosureOut | None


class DisclosureCalendar(msgspec.Struct):
    fund_id: int
    as_of: dt.date
    items: list[DisclosureDue]
    overdue: int
