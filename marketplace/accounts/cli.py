"""`marketplace users list|create|disable|reset-password|handover`: managing accounts from the command line.

The commands act as the system (a district admin that is no account; the audit log names the actor ``cli``) and
name accounts by username. A one-time code is printed once and stored only as a hash.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import click

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from marketplace.accounts.schemas import CreatedUserOut, HandoverOut, OneTimeCodeOut, UserOut

T = TypeVar("T")


def run(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one transaction, relay its outbox events in process, and turn refusals into exit code 1."""
    from marketplace import outbox  # deferred import: the database loads only when a command runs (fast --help)
    from marketplace.db import Database  # deferred import: as above
    from marketplace.errors import DomainError  # deferred import: as above
    from marketplace.features import load_models  # deferred import: as above
    from marketplace.settings import get_settings  # deferred import: as above

    load_models()  # every table, and the outbox handlers of the features above accounts

    async def go() -> T:
        db = Database(get_settings())
        try:
            async with db.sessionmaker() as session:
                try:
                    result = await work(session)
                    await session.commit()
                except BaseException:
                    outbox.discard_pending(session)
                    await session.rollback()
                    raise
                events = outbox.take_pending(session)
            await outbox.relay(db, events, None)  # the handlers run here, whatever broker the server uses
            return result
        finally:
            await db.dispose()

    try:
        return asyncio.run(go())
    except DomainError as exc:
        click.echo(f"error: {exc.detail}", err=True)
        sys.exit(1)


def echo_code(code: OneTimeCodeOut) -> None:
    what = "activation" if code.purpose == "activate" else "reset"
    click.echo(f"{what} code for {code.username} (shown once, expires {code.expires_at:%Y-%m-%d %H:%M} UTC):")
    click.echo(f"  {code.code}")


@click.group()
def users() -> None:
    """Staff accounts: list, create, disable, reset a password, hand a community or street over."""


@users.command("list")
@click.option("--q", "q", default=None, help="Search by name, username or phone.")
@click.option("--role", default=None, help="Only this role (e.g. child_director).")
@click.option("--disabled/--active", "disabled", default=None, help="Only disabled (or only active) accounts.")
@click.option("--limit", default=200, type=click.IntRange(1, 200), show_default=True)
def list_command(q: str | None, role: str | None, disabled: bool | None, limit: int) -> None:
    """List accounts: id, username, role, scope, state."""

    from marketplace.accounts import service as accounts  # deferred import: loads only when the command runs

    async def work(session: AsyncSession) -> tuple[list[UserOut], int]:
        return await accounts.list_users(
            session, accounts.SYSTEM, q=q, role=role, active=None if disabled is None else not disabled, limit=limit
        )

    rows, total = run(work)
    for u in rows:
        scope = {
            "community": f"community {u.community_id}",
            "street": f"street {u.street_id}",
            "organization": f"organization {u.organization_id}" + (" (admin)" if u.is_org_admin else ""),
        }.get(u.scope, "district")
        state = "active" if u.is_active else "disabled"
        if u.must_change_password:
            state += ", must set password"
        click.echo(f"{u.id}\t{u.username}\t{u.display_name}\t{u.role}\t{scope}\t{state}")
    click.echo(f"{len(rows)} of {total} accounts", err=True)


@users.command("create")
@click.argument("username")
@click.option("--name", "display_name", required=True, help="Real name (实名).")
@click.option("--phone", required=True, help="Mobile number.")
@click.option("--role", required=True, help="child_director, child_supervisor, org_staff, district_admin, …")
@click.option("--street-id", type=click.IntRange(1), default=None)
@click.option("--community-id", type=click.IntRange(1), default=None)
@click.option("--organization-id", type=click.IntRange(1), default=None)
@click.option("--org-admin", is_flag=True, help="The organization's admin (org_staff only).")
def create_command(
    username: str,
    display_name: str,
    phone: str,
    role: str,
    street_id: int | None,
    community_id: int | None,
    organization_id: int | None,
    org_admin: bool,
) -> None:
    """Create an account; prints its activation code once (the account sets its own password with it)."""
    import msgspec  # deferred import: loads only when the command runs

    from marketplace.accounts import service as accounts  # deferred import: as above
    from marketplace.accounts.schemas import UserIn  # deferred import: as above

    try:
        data = msgspec.convert(
            {
                "username": username,
                "display_name": display_name,
                "phone": phone,
                "role": role,
                "street_id": street_id,
                "community_id": community_id,
                "organization_id": organization_id,
                "is_org_admin": org_admin,
            },
            UserIn,
        )
    except msgspec.ValidationError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)

    async def work(session: AsyncSession) -> CreatedUserOut:
        return await accounts.create_user(session, accounts.SYSTEM, data)

    created = run(work)
    click.echo(f"created account {created.user.id} {created.user.username} ({created.user.role})")
    echo_code(created.activation)


@users.command("disable")
@click.argument("username")
def disable_command(username: str) -> None:
    """Disable an account: its tokens and console sessions end at once."""
    from marketplace.accounts import service as accounts  # deferred import: loads only when the command runs

    async def work(session: AsyncSession) -> UserOut:
        return await accounts.disable_user(session, accounts.SYSTEM, await accounts.find_user_id(session, username))

    user = run(work)
    click.echo(f"disabled {user.username}")


@users.command("reset-password")
@click.argument("username")
def reset_password_command(username: str) -> None:
    """Reset a password: the old one stops working; prints a one-time reset code once."""
    from marketplace.accounts import service as accounts  # deferred import: loads only when the command runs

    async def work(session: AsyncSession) -> OneTimeCodeOut:
        return await accounts.reset_password(session, accounts.SYSTEM, await accounts.find_user_id(session, username))

    echo_code(run(work))


@users.command("handover")
@click.argument("from_username")
@click.argument("to_username")
def handover_command(from_username: str, to_username: str) -> None:
    """Hand a director's community (or a supervisor's street) to another account; the old one is disabled."""
    from marketplace.accounts import service as accounts  # deferred import: loads only when the command runs
    from marketplace.accounts.schemas import HandoverIn  # deferred import: as above

    async def work(session: AsyncSession) -> HandoverOut:
        data = HandoverIn(
            from_user_id=await accounts.find_user_id(session, from_username),
            to_user_id=await accounts.find_user_id(session, to_username),
        )
        return await accounts.handover(session, accounts.SYSTEM, data)

    done = run(work)
    what = f"community {done.community_id}" if done.community_id else f"street {done.street_id}"
    click.echo(f"handed {what} from {from_username} to {to_username} (handover {done.id}); {from_username} disabled")
