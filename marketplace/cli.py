"""marketplace migrate | demo | demo-users | serve | worker | beat | job | reindex | openapi | users | rotate-field-key |
new-field-key | check-duplicates | verify | purge-expired

Every command but ``new-field-key`` reads and checks the settings before it does anything: a setting that cannot be
used stops it with one line per problem (``NAME: what is wrong (what is expected)``), all of them at once, and exit
status 2, never a traceback."""

from __future__ import annotations

import asyncio
import errno
import json
import socket
import sys
import time
from typing import Any

import click

from marketplace.accounts.cli import users
from marketplace.observability.logs import configure_logging, granian_log_config
from marketplace.observability.metrics import use_directory as use_metrics_directory
from marketplace.settings import Settings, SettingsError, get_settings, read_settings

# Commands that run without reading the settings (they help fix them).
WITHOUT_SETTINGS = frozenset({"new-field-key"})


class CheckedCommand(click.Command):
    """A command that reads and checks every setting once its arguments are parsed (so `--help` needs none), before
    it does anything."""

    def invoke(self, ctx: click.Context) -> object:
        if self.name not in WITHOUT_SETTINGS:
            get_settings()
        return super().invoke(ctx)


class Commands(click.Group):
    """Every command refuses to run on unusable settings or secrets with the one message naming them all (exit
    status 2)."""

    command_class = CheckedCommand

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except SettingsError as exc:
            click.echo(str(exc), err=True)
            ctx.exit(2)
        except Exception as exc:
            from sqlalchemy.exc import InterfaceError, OperationalError  # deferred import: only on a failure

            if not isinstance(exc, OperationalError | InterfaceError):
                raise
            # The database is down, unreachable or refuses the credentials: one line, not a traceback.
            reason = str(exc.orig or exc).strip().splitlines()[0][:300]
            click.echo(
                f"MARKETPLACE_DATABASE_URL: the database cannot be used: {reason} "
                "(a running database at that address that takes these credentials)",
                err=True,
            )
            ctx.exit(2)


@click.group(cls=Commands)
def main() -> None:
    command = click.get_current_context().invoked_subcommand
    # The usable part of the settings (a bad value is reported by the command itself, with every other problem,
    # once its arguments are parsed: `--help` works whatever the environment holds).
    settings, _ = read_settings()
    configure_logging(settings, role=command if command in ("serve", "worker", "beat") else "cli")


@main.command()
@click.option(
    "--check", is_flag=True, help="Change nothing: print the database's revision and the code's; exit 1 when behind."
)
def migrate(check: bool) -> None:
    """Bring the database schema up to date (Alembic), one migration run at a time per database.

    A second `marketplace migrate` started meanwhile waits for the first (a PostgreSQL advisory lock; a lock file
    beside a SQLite database), then finds nothing left to do."""
    from marketplace import migrate as m  # deferred import: Alembic loads only for this command

    settings = get_settings()
    if check:
        current, heads = m.status(settings)
        shown = ", ".join(current) or "none (never migrated)"
        try:
            behind = m.pending(settings, current)
        except m.UnknownRevision as unknown:
            click.echo(
                f"database at {shown}; code at {', '.join(heads)}: the database has revisions this code does "
                f"not know ({unknown}: migrated by newer code)",
                err=True,
            )
            sys.exit(1)
        if behind:
            click.echo(
                f"database at {shown}; code at {', '.join(heads)}: {len(behind)} migrations to apply "
                f"({', '.join(behind)}): run `marketplace migrate`"
            )
            sys.exit(1)
        click.echo(f"database at {shown}: up to date")
        return

    def waiting() -> None:
        click.echo("another `marketplace migrate` is running on this database: waiting for it", err=True)

    before, after = m.upgrade(settings, waiting=waiting)
    if before == after:
        click.echo(f"database at {', '.join(after)}: already up to date, nothing to do")
    else:
        click.echo(f"database migrated: {', '.join(before) or 'empty'} -> {', '.join(after)}")


@main.command()
@click.option("--if-empty", is_flag=True, help="Load only when the database holds no streets yet.")
def demo(if_empty: bool) -> None:
    """Load the Futian demo data (synthetic children; real street names)."""
    from marketplace.demo.loader import load_demo  # deferred import: the demo definitions are large

    loaded = asyncio.run(load_demo(get_settings(), if_empty=if_empty))
    click.echo("demo data loaded" if loaded else "database already holds data; demo not loaded")


def port_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be served (in use, not allowed, no such address), or None when it can."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return f"HOST: {host!r} is not an address of this machine ({exc.strerror})"
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: TIME_WAIT does not count
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"PORT: {host}:{port} is already in use (stop what serves it, or choose another port)"
            if exc.errno == errno.EACCES:
                return f"PORT: {port} needs privileges this process lacks (a port from 1024, behind a proxy)"
            if exc.errno == errno.EADDRNOTAVAIL:
                return f"HOST: {host} is not an address of this machine (an address it has, or 0.0.0.0)"
            return f"PORT: {host}:{port} cannot be bound ({exc.strerror})"
    return None


@main.command()
@click.option("--host", default=None, help="Address to bind (default 127.0.0.1 or $HOST).")
@click.option("--port", default=None, type=click.IntRange(1, 65535), help="Port (default 8000 or $PORT).")
@click.option("--workers", default=1, type=click.IntRange(1, 64), help="Worker processes.")
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Serve the API and the console with granian; refuses at once (exit status 2) when the port is taken."""
    from granian import Granian  # deferred import: the server loads only for `serve`
    from granian.constants import Interfaces  # deferred import: as above

    settings = get_settings()
    use_metrics_directory(settings, "serve", fresh=True)
    host = host or settings.host
    port = port or settings.port
    problem = port_problem(host, port)
    if problem is not None:
        click.echo(problem, err=True)
        sys.exit(2)
    click.echo(f"serving on http://{host}:{port}  (API docs: http://{host}:{port}/schema, console: /admin)")
    Granian(
        "marketplace.asgi:app",
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        log_access=False,
        log_dictconfig=granian_log_config(),
    ).serve()


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
def worker(celery_args: tuple[str, ...]) -> None:
    """Run a Celery worker (needs REDIS_URL)."""
    if not get_settings().redis_url:
        click.echo("REDIS_URL is not set: tasks run in process; no worker needed", err=True)
        sys.exit(2)
    from workers.celery_app import app  # deferred import: Celery loads only for the worker commands

    app.worker_main(["worker", "--loglevel=INFO", *celery_args])


@main.command()
def beat() -> None:
    """Run the Celery beat scheduler (periodic jobs); its schedule file lives in the data directory."""
    from pathlib import Path  # deferred import: only this command makes the directory

    from workers.celery_app import app  # deferred import: Celery loads only for the worker commands

    Path(get_settings().data_dir).mkdir(parents=True, exist_ok=True)
    app.start(["beat", "--loglevel=INFO"])


@main.command()
def reindex() -> None:
    """Rebuild the search indexes from the database, with a progress bar."""
    from rich.progress import Progress  # deferred import: the progress bar loads only for `reindex`

    from marketplace.db import Database  # deferred import: engines load only for commands that use the database
    from marketplace.features import load_models  # deferred import: models load only for commands that use them
    from marketplace.indexing.sync import backend_for, reindex_all  # deferred import: search loads only for `reindex`

    settings = get_settings()
    load_models()

    async def run() -> dict[str, int]:
        db = Database(settings)
        try:
            with Progress() as bar:
                tasks: dict[str, object] = {}

                def progress(index_name: str, done: int, total: int) -> None:
                    if index_name not in tasks:
                        tasks[index_name] = bar.add_task(f"indexing {index_name}", total=total)
                    bar.update(tasks[index_name], completed=done)  # type: ignore[arg-type]

                return await reindex_all(db, backend_for(settings), progress=progress)
        finally:
            await db.dispose()

    counts = asyncio.run(run())
    click.echo(", ".join(f"{name}: {n}" for name, n in counts.items()) + " indexed")


@main.group()
def search() -> None:
    """The search engine's indexes (Meilisearch: `setup` before the first start and after an upgrade)."""


@search.command("setup")
def search_setup() -> None:
    """Check the Meilisearch server's version, create both indexes and send their settings; idempotent, safe to
    run from several hosts at once (the embedded engine needs nothing: its index file sets itself up)."""
    from marketplace.indexing.sync import backend_for  # deferred import: search loads only for `search`
    from search import SearchError  # deferred import: as above
    from search.meili import MeiliBackend  # deferred import: as above

    settings = get_settings()
    backend = backend_for(settings)
    if not isinstance(backend, MeiliBackend):
        click.echo(f"embedded search engine ({settings.search_path}): nothing to set up")
        return
    try:
        done = backend.setup(progress=click.echo)
    except SearchError as exc:
        click.echo(f"search setup failed: {exc}", err=True)
        sys.exit(1)
    click.echo(", ".join(f"{name}: {what}" for name, what in done.items()))


def describe_result(result: object) -> str:
    """A job's return value as one line: a count, the ids it touched, or its report as JSON."""
    if isinstance(result, bool) or result is None:
        return "done"
    if isinstance(result, int):
        return str(result)
    if isinstance(result, list | tuple | set | frozenset):
        items = sorted(result) if isinstance(result, set | frozenset) else list(result)
        shown = ", ".join(str(i) for i in items[:20]) + (", …" if len(items) > 20 else "")
        return f"{len(items)}" + (f" ({shown})" if items else "")
    return json.dumps(result, ensure_ascii=False, default=str, sort_keys=True)


@main.command()
@click.argument("name")
def job(name: str) -> None:
    """Run one periodic job now, in process (e.g. referrals.escalate_overdue); an unknown name lists the jobs."""
    from marketplace import tasks  # deferred import: the jobs load only for `job`
    from marketplace.features import load_jobs  # deferred import: as above

    load_jobs()
    if name not in tasks.JOBS:
        click.echo(f"unknown job {name!r} (known jobs: {', '.join(sorted(tasks.JOBS))})", err=True)
        sys.exit(2)
    from workers import runtime  # deferred import: the worker's loop and database load only for `job`

    started = time.monotonic()
    result = runtime.run(tasks.JOBS[name])
    click.echo(f"{name}: {describe_result(result)} ({time.monotonic() - started:.1f} s)")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def verify(as_json: bool) -> None:
    """Prove the audit log's and the ledger's hash chains intact, or name the first broken row (exit status 1)."""
    from marketplace.audit import verification  # deferred import: models load only for commands that use them
    from marketplace.db import Database  # deferred import: engines load only for commands that use the database

    async def run() -> verification.Outcome:
        db = Database(get_settings())
        try:
            return await verification.run(db, trigger="cli")
        finally:
            await db.dispose()

    outcome = asyncio.run(run())
    if as_json:
        click.echo(json.dumps({"ok": outcome.ok, "chains": outcome.record.chains, "broken": outcome.record.broken}))
    else:
        for line in outcome.lines():
            click.echo(line)
        click.echo("all chains intact" if outcome.ok else "CHAIN BROKEN", err=not outcome.ok)
    if not outcome.ok:
        sys.exit(1)


# How each demo role's scope reads in `marketplace demo-users` (and README.md's demo logins table).
DISTRICT_ROLES = {
    "district_admin": "the district",
    "fund_manager": "the district",
    "procurement_officer": "the district",
    "auditor": "the district, read only",
}


async def demo_logins(settings: Settings) -> list[tuple[str, str, str]]:
    """(role, scope, username) of every demo login present in the database, in the order the demo created them."""
    from sqlalchemy import select  # deferred import: keeps `marketplace --help` fast

    from marketplace.auth.models import User  # deferred import: models load only for commands that use them
    from marketplace.db import Database  # deferred import: as above
    from marketplace.demo import futian_data  # deferred import: the demo definitions are large
    from marketplace.geography.models import Community, Street  # deferred import: as above
    from marketplace.resources.models import Organization  # deferred import: as above

    demo_names = set(futian_data.USER_BY_USERNAME)
    db = Database(settings)
    try:
        async with db.session() as session:
            rows = (
                await session.execute(
                    select(User.username, User.role, Street.name, Community.name, Organization.name, User.is_org_admin)
                    .outerjoin(Street, Street.id == User.street_id)
                    .outerjoin(Community, Community.id == User.community_id)
                    .outerjoin(Organization, Organization.id == User.organization_id)
                    .order_by(User.id)
                )
            ).all()
    finally:
        await db.dispose()
    logins = []
    for username, role, street, community, organization, org_admin in rows:
        if username not in demo_names:
            continue
        if role in DISTRICT_ROLES:
            scope = DISTRICT_ROLES[role]
        elif community is not None:
            scope = f"{community}, {street}"
        else:
            scope = organization or street or "—"
            if org_admin:
                scope += " (admin)"
        logins.append((f"{role} {futian_data.ROLES.get(role, '')}".strip(), scope, username))
    return logins


def markdown_table(header: tuple[str, ...], rows: list[tuple[str, str, str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(f"`{c}`" if i == len(r) - 1 else c for i, c in enumerate(r)) + " |" for r in rows]
    return "\n".join(lines)


@main.command("demo-users")
def demo_users() -> None:
    """Print the demo logins (role, scope, username) found in the database, as a Markdown table."""
    from marketplace.features import load_models  # deferred import: models load only for commands that use them

    load_models()
    logins = asyncio.run(demo_logins(get_settings()))
    if not logins:
        click.echo("no demo users in this database: run `marketplace demo` first", err=True)
        sys.exit(1)
    click.echo(markdown_table(("role", "scope", "username"), logins))


def openapi_document(settings: Settings) -> str:
    """The app's OpenAPI schema as stable JSON (sorted keys), the text of docs/openapi.json."""
    from marketplace.app import create_app  # deferred import: building the app loads every feature

    schema = create_app(settings).openapi_schema.to_schema()
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


@main.command()
def openapi() -> None:
    """Print the app's OpenAPI schema (regenerate the committed copy: marketplace openapi > docs/openapi.json)."""
    click.echo(openapi_document(get_settings()), nl=False)


@main.command("rotate-field-key")
@click.option(
    "--new-key",
    is_flag=True,
    help="Development: first put a new random key at the head of the data directory's key file.",
)
@click.option(
    "--drop-old",
    is_flag=True,
    help="Development: afterwards remove from the key file the keys no file uses any more.",
)
@click.option("--batch-size", default=200, show_default=True, type=click.IntRange(1, 10_000))
def rotate_field_key(new_key: bool, drop_old: bool, batch_size: int) -> None:
    """Re-encrypt every encrypted field of the children's files under the current field key.

    In committed batches while the app keeps serving; a second run changes nothing, and running it again resumes
    a run that stopped. In production the key ring is MARKETPLACE_FIELD_KEYS: put the new key first, restart every
    process, run this, then drop the old key (README.md, Settings: rotating the field key)."""
    from pathlib import Path  # deferred import: only this command touches key files

    from marketplace import keyfiles  # deferred import: as above
    from marketplace.cases import rotation  # deferred import: models load only for commands that use them
    from marketplace.cases.crypto import field_cipher  # deferred import: as above
    from marketplace.db import Database  # deferred import: as above
    from marketplace.features import load_models  # deferred import: as above

    settings = get_settings()
    key_file = Path(settings.field_key_file) if settings.field_key_file else None
    if (new_key or drop_old) and key_file is None:
        click.echo(
            "the field keys come from MARKETPLACE_FIELD_KEYS: put the new key first there and restart every process, "
            "then run `marketplace rotate-field-key` (without --new-key); drop the old key from the variable after",
            err=True,
        )
        sys.exit(2)
    if new_key and key_file is not None:
        added = keyfiles.add_field_key(key_file)
        click.echo(f"new field key {added.id} is now current in {key_file} (running processes pick it up)")
    cipher = field_cipher(settings)
    cipher.refresh(force=True)
    load_models()

    def progress(report: rotation.RotationReport) -> None:
        click.echo(f"  batch {report.batches}: {report.rotated} files re-encrypted so far")

    async def run() -> rotation.RotationReport:
        db = Database(settings)
        try:
            return await rotation.rotate(db, cipher, batch_size=batch_size, progress=progress)
        finally:
            await db.dispose()

    report = asyncio.run(run())
    fields = ", ".join(f"{name} {report.fields[name]}" for _, _, name in rotation.FIELDS)
    click.echo(
        f"field key {report.key_id}: {report.total} children's files, {report.rotated} re-encrypted ({fields}), "
        f"{report.total - report.rotated - len(report.unreadable)} already under it; "
        f"{report.batches} batches, {report.changed_meanwhile} changed meanwhile"
    )
    texts = sum(n for name, n in report.fields.items() if "." in name)
    click.echo(f"free text (names, notes, findings): {report.texts_rotated} records, {texts} values re-encrypted")
    if report.unreadable:
        click.echo(f"{len(report.unreadable)} files no key of the ring opens: ids {report.unreadable[:20]}", err=True)
    if report.texts_unreadable:
        shown = ", ".join(f"{name} {i}" for name, i in report.texts_unreadable[:20])
        click.echo(
            f"{len(report.texts_unreadable)} records whose free text no key of the ring opens: {shown}", err=True
        )
    if report.remaining:
        left = ", ".join(f"{key} {n}" for key, n in report.remaining.items())
        click.echo(f"still under other keys (run again): {left}", err=True)
    if not report.done:
        sys.exit(1)
    unused = [k for k in cipher.key_ids if k != report.key_id]
    if drop_old and key_file is not None and unused:
        keyfiles.drop_field_keys(key_file, set(unused))
        click.echo(f"dropped the keys no file uses from {key_file}: {', '.join(unused)}")
    elif unused:
        click.echo(f"no file uses the older keys {', '.join(unused)} any more: they may be dropped")


@main.command("new-field-key")
def new_field_key() -> None:
    """Print a new field key ring entry, ``<key id>:<base64 of 32 random bytes>``, for MARKETPLACE_FIELD_KEYS.

    Reads no setting (it is how a refused key is replaced); README.md, Settings: rotating the field key."""
    from marketplace import keyfiles  # deferred import: only this command makes keys

    key = keyfiles.new_field_key()
    click.echo(f"{key.id}:{key.secret}")


@main.command("check-duplicates")
@click.option("--json", "as_json", is_flag=True, help="Print the groups as JSON.")
def check_duplicates(as_json: bool) -> None:
    """Find identity numbers filed more than once (one person, one file); exit status 1 when any is found.

    Every file's number is decrypted under the key ring and equal numbers grouped: each group lists its files
    (child id, community, created, status). Resolve a pair with a file transfer (/api/v1/child-transfers) or by
    closing the file opened in error."""
    from marketplace.cases.crypto import field_cipher  # deferred import: models load only for commands that use them
    from marketplace.cases.duplicates import find_duplicates  # deferred import: as above
    from marketplace.db import Database  # deferred import: as above
    from marketplace.features import load_models  # deferred import: as above

    settings = get_settings()
    load_models()

    async def run() -> list[Any]:
        db = Database(settings)
        try:
            return list(await find_duplicates(db, field_cipher(settings)))
        finally:
            await db.dispose()

    groups = asyncio.run(run())
    files = sum(len(g.files) for g in groups)
    if as_json:
        doc = {
            "groups": [
                {
                    "id_number_masked": g.id_number_masked,
                    "files": [
                        {
                            "child_id": f.child_id,
                            "community_id": f.community_id,
                            "community_name": f.community_name,
                            "created_at": f.created_at.isoformat(),
                            "status": f.status,
                        }
                        for f in g.files
                    ],
                }
                for g in groups
            ],
            "duplicate_numbers": len(groups),
            "files": files,
        }
        click.echo(json.dumps(doc, ensure_ascii=False, indent=2))
    else:
        for g in groups:
            click.echo(f"{g.id_number_masked}: {len(g.files)} files")
            for f in g.files:
                click.echo(
                    f"  child {f.child_id}  {f.community_name} (community {f.community_id})  "
                    f"created {f.created_at:%Y-%m-%d}  {f.status}"
                )
        click.echo(f"{len(groups)} identity numbers filed more than once ({files} files)")
    if groups:
        sys.exit(1)


@main.command("purge-expired")
@click.option("--dry-run", is_flag=True, help="List the files that would be deleted, change nothing.")
@click.option("--limit", default=10_000, show_default=True, type=click.IntRange(1, 1_000_000))
def purge_expired(dry_run: bool, limit: int) -> None:
    """Delete the closed children's files past the retention period (MARKETPLACE_RETENTION_YEARS after closing).

    Each file goes in its own transaction with everything hanging off it; payment records and mandatory reports stay
    without the child (README.md, "Retention"). Prints file ids and dates only, never a name."""
    from marketplace.cases import retention  # deferred import: models load only for commands that use them
    from marketplace.db import Database  # deferred import: as above
    from marketplace.features import load_models  # deferred import: as above

    settings = get_settings()
    load_models()

    async def run() -> retention.PurgeReport:
        db = Database(settings)
        try:
            return await retention.purge_expired(db, dry_run=dry_run, limit=limit)
        finally:
            await db.dispose()

    report = asyncio.run(run())
    held = set(report.held)
    click.echo(f"retention: {settings.retention_years} years after closing")
    for due in report.due:
        state = "waits for an unpaid allowance run" if due.child_id in held else ("would go" if dry_run else "deleted")
        click.echo(
            f"  child {due.child_id}  community {due.community_id}  closed {due.closed_at:%Y-%m-%d}  "
            f"due {due.due_at:%Y-%m-%d}  {state}"
        )
    if dry_run:
        click.echo(f"{len(report.due) - len(held)} files would be deleted, {len(held)} wait (dry run: nothing changed)")
    else:
        totals = ", ".join(f"{name} {n}" for name, n in report.totals().items())
        click.echo(f"{len(report.purged)} files deleted, {len(held)} wait" + (f" ({totals})" if totals else ""))


main.add_command(users)

if __name__ == "__main__":
    main()
