"""marketplace migrate | demo | serve | worker | beat | job | reindex"""

from __future__ import annotations

import asyncio
import logging
import sys

import click

from marketplace.settings import get_settings


@click.group()
def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@main.command()
def migrate() -> None:
    """Bring the database schema up to date (Alembic)."""
    from marketplace import migrate as m

    m.upgrade(get_settings())
    click.echo("database migrated")


@main.command()
@click.option("--if-empty", is_flag=True, help="Load only when the database holds no streets yet.")
def demo(if_empty: bool) -> None:
    """Load the Futian demo data (synthetic children; real street names)."""
    from marketplace.demo.loader import load_demo

    loaded = asyncio.run(load_demo(get_settings(), if_empty=if_empty))
    click.echo("demo data loaded" if loaded else "database already holds data; demo not loaded")


@main.command()
@click.option("--host", default=None, help="Address to bind (default 127.0.0.1 or $HOST).")
@click.option("--port", default=None, type=int, help="Port (default 8000 or $PORT).")
@click.option("--workers", default=1, type=int, help="Worker processes.")
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Serve the API and the console with granian."""
    from granian import Granian
    from granian.constants import Interfaces

    settings = get_settings()
    host = host or settings.host
    port = port or settings.port
    click.echo(f"serving on http://{host}:{port}  (API docs: http://{host}:{port}/schema, console: /admin)")
    Granian(
        "marketplace.asgi:app",
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        log_access=False,
    ).serve()


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
def worker(celery_args: tuple[str, ...]) -> None:
    """Run a Celery worker (needs REDIS_URL)."""
    if not get_settings().redis_url:
        click.echo("REDIS_URL is not set: tasks run in process; no worker needed", err=True)
        sys.exit(2)
    from workers.celery_app import app

    app.worker_main(["worker", "--loglevel=INFO", *celery_args])


@main.command()
def beat() -> None:
    """Run the Celery beat scheduler (periodic jobs)."""
    from workers.celery_app import app

    app.start(["beat", "--loglevel=INFO"])


@main.command()
def reindex() -> None:
    """Rebuild the search indexes from the database, with a progress bar."""
    from rich.progress import Progress

    from marketplace.db import Database
    from marketplace.features import load_models
    from marketplace.search_wiring import backend_for, reindex_all

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


@main.command()
@click.argument("name")
def job(name: str) -> None:
    """Run one periodic job now, in process (e.g. referrals.escalate_overdue)."""
    from workers.tasks import run_job

    click.echo(repr(run_job.run(name)))


if __name__ == "__main__":
    main()
