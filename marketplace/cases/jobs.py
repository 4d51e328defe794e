"""Periodic work of the cases feature (names registered in ``marketplace.tasks.JOBS``; the beat schedule in
``workers/beat.py`` runs them)."""

from __future__ import annotations
