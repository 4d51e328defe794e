from __future__ import annotations

import msgspec


class StreetOut(msgspec.Struct):
    id: int
    code: str
    name: str


class CommunityOut(msgspec.Struct):
    id: int
    street_id: int
    code: str
    name: str


class StreetList(msgspec.Struct):
    items: list[StreetOut]
    total: int


class CommunityList(msgspec.Struct):
    items: list[CommunityOut]
    total: int
