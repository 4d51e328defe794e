"""The conferences' events of a child's closed loop (``referrals.timeline.SOURCES``): see
``conferences.service.loop_events`` for the stage rule."""

from __future__ import annotations

from marketplace.conferences.service import loop_events

__all__ = ["loop_events"]
