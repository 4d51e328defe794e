"""The API is ready for Litestar 3: every injected value, parameter and body is marked explicitly.

Litestar 2.25 still infers what the 3.0 line will not (a dependency known only by its parameter's name, a query
parameter declared as ``= Parameter(query=...)``, a path parameter or body without a marker) and says so with a
``LitestarDeprecationWarning`` when the app is built. Those handlers would stop receiving their values on upgrade.
The admin console (handlers named ``console-*``) is converted separately and is left out here.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import pytest
from litestar import Litestar, get
from litestar.di import Provide
from litestar.exceptions import LitestarDeprecationWarning

from marketplace.app import create_app
from marketplace.settings import Settings

CONSOLE_HANDLER = re.compile(r"\[paths='[^']*', handler='console-")


def _api_deprecations(settings: Settings) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        create_app(settings)
    return [
        str(w.message)
        for w in caught
        if issubclass(w.category, DeprecationWarning)
        and w.filename.replace("\\", "/").rsplit("/site-packages/", 1)[-1].startswith("litestar/")
        and not CONSOLE_HANDLER.match(str(w.message))
    ]


def test_building_the_app_raises_no_litestar_deprecation_for_the_api(settings: Settings) -> None:
    assert _api_deprecations(settings) == []


def test_an_inferred_dependency_fails_the_suite() -> None:
    # pyproject's filterwarnings turns Litestar's deprecations into errors, so a handler written the old way
    # cannot slip in: it fails every test that builds the app.
    @get("/x", operation_id="x", sync_to_thread=False)
    def handler(settings: Settings) -> None:
        return None

    with pytest.raises(LitestarDeprecationWarning, match="Inferred dependency field 'settings'"):
        Litestar(route_handlers=[handler], dependencies={"settings": Provide(lambda: None, sync_to_thread=False)})


def test_the_published_contract_keeps_its_parameters_and_bodies(app: Litestar) -> None:
    schema = app.openapi_schema.to_schema()
    listing = schema["paths"]["/api/v1/referrals"]["get"]
    params: dict[str, dict[str, Any]] = {p["name"]: p for p in listing["parameters"]}
    assert params["limit"]["in"] == "query"
    limit = params["limit"]["schema"]
    assert (limit["type"], limit["minimum"], limit["maximum"], limit["default"]) == ("integer", 1, 200, 20)
    assert params["offset"]["schema"]["minimum"] == 0
    assert params["status"]["required"] is False
    assert params["status"]["schema"]["maxLength"] == 20
    # The caller, session and settings are injected, never published as parameters.
    assert not {"session", "principal", "settings", "page"} & params.keys()

    read = schema["paths"]["/api/v1/referrals/{referral_id}"]["get"]
    assert [(p["name"], p["in"], p["required"]) for p in read["parameters"]] == [("referral_id", "path", True)]

    send = schema["paths"]["/api/v1/referrals"]["post"]
    body = send["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/ReferralIn"}
    assert send["requestBody"]["required"] is True

    report = schema["paths"]["/api/v1/reports/quarterly"]["get"]
    year = next(p for p in report["parameters"] if p["name"] == "year")
    assert year["required"] is True
    assert (year["schema"]["minimum"], year["schema"]["maximum"]) == (2000, 2100)
