"""The browser contexts the journeys run in: a director's phone in the field and a desk's laptop."""

from __future__ import annotations

from typing import Any, Final

PHONE: Final[dict[str, Any]] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "zh-CN",
}
LAPTOP: Final[dict[str, Any]] = {"viewport": {"width": 1366, "height": 900}, "locale": "zh-CN"}
