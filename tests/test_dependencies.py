"""Dependencies are resolved one after another (marketplace.app.resolve_dependencies_in_order): the same values as
Litestar's concurrent batches without a task per dependency, and a refused dependency closes what was opened."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from litestar import Litestar, get
from litestar._kwargs.kwargs_model import KwargsModel
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotAuthorizedException
from litestar.testing import AsyncTestClient

from marketplace import app as app_module


def test_the_app_resolves_dependencies_in_order() -> None:
    assert KwargsModel.resolve_dependencies is app_module.resolve_dependencies_in_order


async def test_every_value_arrives_and_a_refusal_closes_the_generators_already_started() -> None:
    events: list[str] = []

    async def opened() -> AsyncGenerator[str, None]:
        events.append("open")
        try:
            yield "session"
        except NotAuthorizedException:
            events.append("rolled back")
            raise
        finally:
            events.append("closed")

    async def who(refuse: bool) -> str:
        if refuse:
            raise NotAuthorizedException("no")
        return "someone"

    def page() -> int:
        return 20

    @get("/x", sync_to_thread=False)
    def handler(
        session: NamedDependency[str], principal: NamedDependency[str], size: NamedDependency[int]
    ) -> dict[str, object]:
        events.append("handler")
        return {"session": session, "principal": principal, "size": size}

    def build(refuse: bool) -> Litestar:
        async def principal() -> str:
            return await who(refuse)

        return Litestar(
            [handler],
            dependencies={
                "session": Provide(opened),
                "principal": Provide(principal),
                "size": Provide(page, sync_to_thread=False),
            },
        )

    async with AsyncTestClient(build(refuse=False)) as client:
        assert (await client.get("/x")).json() == {"session": "session", "principal": "someone", "size": 20}
    assert events[-2:] == ["handler", "closed"]
    events.clear()
    async with AsyncTestClient(build(refuse=True)) as client:
        assert (await client.get("/x")).status_code == 401
    # Whichever order the batch ran in, a session that was opened was closed before the answer, the handler never ran.
    assert "handler" not in events
    assert events in ([], ["open", "rolled back", "closed"])
