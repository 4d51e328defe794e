"""Counting the statements an app sends to its databases (to show that a cached answer costs no query)."""

from __future__ import annotations

from sqlalchemy import event

from marketplace.db import Database


def statements_mentioning(db: Database, fragment: str) -> list[str]:
    """A list that grows with every statement containing ``fragment`` run on any of ``db``'s engines from now on."""
    seen: list[str] = []

    def on_execute(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if fragment in statement:
            seen.append(statement)

    engines = [db.engine.sync_engine, db.read_engine.sync_engine]
    engines += [e for e in (db.sync_read_engine, db.threaded_read_engine, db.sync_write_engine) if e is not None]
    for engine in dict.fromkeys(engines):
        event.listen(engine, "before_cursor_execute", on_execute)
    return seen
