"""The accounts feature's HTTP routes: signing in and out (signin) and managing accounts (users_api)."""

from __future__ import annotations

from marketplace.accounts import signin, users_api

ROUTES: list[object] = [*signin.ROUTES, *users_api.ROUTES]
