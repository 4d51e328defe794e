"""The SQLite FTS5 variant of the embedded backend (the approach DESIGN.md suggests), kept for comparison.

Documents are segmented with jieba and stored pre-segmented (space-separated tokens) in an FTS5 table with
the ``unicode61`` tokenizer; ranking is FTS5's ``bm25()`` with column weights (title 3, labels 2, body 1);
filters are SQL on a side table; facet counts are GROUP BYs over a (document, field, value) table.

It passes the same contract tests as :class:`search.embedded.EmbeddedBackend`, but measured ~1000x slower
(p50 ~640 ms at 10,000 services with filters and facets; see that module's docstring and
``tests/benchmarks/bench_search.py``), so :func:`search.make_backend` does not use it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from typing import Any, Final

import msgspec

from search.documents import Labels, numeric_values, searchable_texts
from search.port import (
    ORGANIZATIONS,
    SERVICES,
    Document,
    SearchHit,
    SearchQuery,
    SearchResult,
    check_index_name,
    prepare,
)
from search.synonyms import synonym_map
from search.text import analyzer

_SQL: Final = """
CREATE TABLE IF NOT EXISTS fts_docs (
    rid INTEGER PRIMARY KEY,
    index_name TEXT NOT NULL,
    id INTEGER NOT NULL,
    doc BLOB NOT NULL,
    status TEXT, kind TEXT, organization_id INTEGER, age_min REAL, age_max REAL, capacity_left REAL,
    cost_per_case_fen REAL, assured_on REAL, updated_at REAL, n_streets INTEGER,
    UNIQUE (index_name, id)
);
CREATE TABLE IF NOT EXISTS fts_values (
    rid INTEGER NOT NULL, field TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (field, value, rid)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS fts_values_rid ON fts_values (rid);
CREATE VIRTUAL TABLE IF NOT EXISTS fts_text USING fts5 (title, labels, body, tokenize = 'unicode61');
"""

_LABEL_FIELDS: Final = frozenset({"category_labels", "child_category_labels", "kind_label"})
_TITLE_FIELDS: Final = frozenset({"title", "name"})
_VALUE_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    SERVICES: ("categories", "child_categories", "street_ids", "status", "organization_id"),
    ORGANIZATIONS: ("kind", "street_ids", "status"),
}


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


class Fts5Backend:
    """SQLite FTS5 search; one connection guarded by a lock (SQLite serialises writers anyway)."""

    in_process = True

    def __init__(self, sqlite_path: str, labels: Labels | None = None) -> None:
        self._conn = sqlite3.connect(sqlite_path, check_same_thread=False, isolation_level=None)
        self._conn.executescript(_SQL)
        self._lock = threading.Lock()
        self._synonyms = synonym_map()
        self.labels = labels or Labels()
        self._text = analyzer(self.labels.all())
        # the benchmark swaps in a memoised segmentation of its generated listings
        self._index_tokens: Callable[[str | None], list[str]] = self._text.index_tokens

    def ensure_indexes(self) -> None:
        return None

    def _remove(self, index_name: str, ids: Sequence[int]) -> None:
        for doc_id in ids:
            row = self._conn.execute(
                "SELECT rid FROM fts_docs WHERE index_name = ? AND id = ?", (index_name, int(doc_id))
            ).fetchone()
            if row is not None:
                self._conn.execute("DELETE FROM fts_docs WHERE rid = ?", row)
                self._conn.execute("DELETE FROM fts_values WHERE rid = ?", row)
                self._conn.execute("DELETE FROM fts_text WHERE rowid = ?", row)

    def index(self, index_name: str, docs: Sequence[Document]) -> None:
        check_index_name(index_name)
        rows = []
        for doc in docs:
            title: list[str] = []
            label_tokens: list[str] = []
            body: list[str] = []
            for name, text in searchable_texts(index_name, doc, self.labels).items():
                target = title if name in _TITLE_FIELDS else label_tokens if name in _LABEL_FIELDS else body
                target.extend(self._index_tokens(text))
            rows.append((doc, " ".join(title), " ".join(label_tokens), " ".join(body)))
        with self._lock:
            self._conn.execute("BEGIN")
            self._remove(index_name, [int(doc["id"]) for doc in docs])
            for doc, title_t, labels_t, body_t in rows:
                num = numeric_values(index_name, doc)
                cur = self._conn.execute(
                    "INSERT INTO fts_docs (index_name, id, doc, status, kind, organization_id, age_min, "
                    "age_max, capacity_left, cost_per_case_fen, assured_on, updated_at, n_streets) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        index_name,
                        int(doc["id"]),
                        msgspec.json.encode(doc),
                        doc.get("status"),
                        doc.get("kind"),
                        doc.get("organization_id"),
                        num.get("age_min"),
                        num.get("age_max"),
                        num.get("capacity_left"),
                        num.get("cost_per_case_fen"),
                        num.get("assured_on"),
                        num.get("updated_at"),
                        len(_list(doc.get("street_ids"))),
                    ),
                )
                rid = cur.lastrowid
                self._conn.executemany(
                    "INSERT OR IGNORE INTO fts_values (rid, field, value) VALUES (?, ?, ?)",
                    [(rid, name, str(v)) for name in _VALUE_FIELDS[index_name] for v in _list(doc.get(name))],
                )
                self._conn.execute(
                    "INSERT INTO fts_text (rowid, title, labels, body) VALUES (?, ?, ?, ?)",
                    (rid, title_t, labels_t, body_t),
                )
            self._conn.execute("COMMIT")

    def delete(self, index_name: str, ids: Sequence[int]) -> None:
        check_index_name(index_name)
        with self._lock:
            self._conn.execute("BEGIN")
            self._remove(index_name, ids)
            self._conn.execute("COMMIT")

    def clear(self, index_name: str) -> None:
        check_index_name(index_name)
        with self._lock:
            self._conn.execute("BEGIN")
            sub = "SELECT rid FROM fts_docs WHERE index_name = ?"
            self._conn.execute(f"DELETE FROM fts_text WHERE rowid IN ({sub})", (index_name,))  # noqa: S608
            self._conn.execute(f"DELETE FROM fts_values WHERE rid IN ({sub})", (index_name,))  # noqa: S608
            self._conn.execute("DELETE FROM fts_docs WHERE index_name = ?", (index_name,))
            self._conn.execute("COMMIT")

    def _match(self, words: Sequence[str]) -> str | None:
        """Every document with any term of the query (a word, a synonym, a sub-word): the hits to rank."""
        terms: list[str] = []
        for word in words:
            for t in (word, *self._synonyms.get(word, ()), *self._text.sub_words(word)):
                if t not in terms:
                    terms.append(t)
        return " OR ".join(_quote(t) for t in terms) or None

    def _word_match(self, word: str) -> str:
        """The documents a query word matches: the word, a synonym, or all of its sub-words (see
        :meth:`search.embedded._Index._word_mask`; FTS5 has no expansion to longer indexed words)."""
        options = [_quote(t) for t in (word, *self._synonyms.get(word, ()))]
        subs = self._text.sub_words(word)
        if subs:
            options.append("(" + " AND ".join(_quote(t) for t in subs) + ")")
        return "(" + " OR ".join(options) + ")"

    def search(self, index_name: str, query: SearchQuery) -> SearchResult:
        nothing = prepare(index_name, query)
        if nothing is not None:
            return nothing
        f = query.filters
        where = ["d.index_name = ?"]
        params: list[Any] = [index_name]

        def any_of(field: str, values: Sequence[Any]) -> None:
            marks = ",".join("?" * len(values)) or "NULL"
            where.append(f"d.rid IN (SELECT rid FROM fts_values WHERE field = ? AND value IN ({marks}))")  # noqa: S608
            params.extend([field, *(str(v) for v in values)])

        if f.categories is not None:
            any_of("categories", f.categories)
        if f.child_categories is not None:
            any_of("child_categories", f.child_categories)
        if f.street_id is not None:
            where.append(
                "(d.n_streets = 0 OR d.rid IN (SELECT rid FROM fts_values WHERE field = 'street_ids' AND value = ?))"
            )
            params.append(str(f.street_id))
        statuses = f.statuses()
        if statuses is not None:
            any_of("status", statuses)
        kinds = f.kinds()
        if kinds is not None:
            any_of("kind", kinds)
        if f.age is not None:
            where.append("d.age_min <= ? AND d.age_max >= ?")
            params.extend([f.age, f.age])
        if f.organization_id is not None:
            where.append("d.organization_id = ?")
            params.append(f.organization_id)
        if f.available is not None:
            where.append("d.capacity_left > 0" if f.available else "d.capacity_left <= 0")
        words = list(self._text.query_words(query.q)) if query.q.strip() else []
        match = self._match(words)
        if match is not None:
            source = "fts_text t CROSS JOIN fts_docs d ON d.rid = t.rowid"  # FTS drives the join
            where.append("fts_text MATCH ?")
            params.append(match)
            rank = "bm25(fts_text, 3.0, 2.0, 1.0)"
        else:
            source = "fts_docs d"
            rank = "0.0"
        base = (
            f"SELECT d.rid AS rid, d.id AS id, {rank} AS rank, 0 AS bucket FROM {source} "  # noqa: S608
            f"WHERE {' AND '.join(where)}"
        )
        field_order = {
            "relevance": "",
            "assured_on:desc": "assured_on IS NULL, assured_on DESC, ",
            "updated_at:desc": "updated_at IS NULL, updated_at DESC, ",
            "cost_per_case_fen:asc": "cost_per_case_fen IS NULL, cost_per_case_fen, ",
        }[query.sort]
        # the contract's order: with words, bucket (first words matched), relevance, sort field, id; else sort field, id
        order = f"h.bucket DESC, h.rank, {field_order}h.id" if match else f"{field_order}h.id"
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                self._conn.execute("DROP TABLE IF EXISTS temp.hits")
                self._conn.execute(f"CREATE TEMP TABLE hits AS {base}", params)
                if match is not None:
                    # a hit's bucket: how many of the first words it matches all of; none: not a result
                    for k in range(len(words), 0, -1):
                        self._conn.execute(
                            "UPDATE temp.hits SET bucket = ? WHERE bucket = 0 AND rid IN "
                            "(SELECT rowid FROM fts_text WHERE fts_text MATCH ?)",
                            (k, " AND ".join(self._word_match(w) for w in words[:k])),
                        )
                    self._conn.execute("DELETE FROM temp.hits WHERE bucket = 0")
                total = self._conn.execute("SELECT count(*) FROM temp.hits").fetchone()[0]
                rows = self._conn.execute(
                    f"SELECT h.id, h.rank, h.bucket FROM temp.hits h JOIN fts_docs d ON d.rid = h.rid ORDER BY {order} "  # noqa: S608
                    "LIMIT ? OFFSET ?",
                    (query.limit, query.offset),
                ).fetchall()
                facets: dict[str, dict[str, int]] = {}
                for name in query.facets:
                    counts = self._conn.execute(
                        "SELECT v.value, count(*) FROM temp.hits h JOIN fts_values v "
                        "ON v.rid = h.rid AND v.field = ? GROUP BY v.value",
                        (name,),
                    ).fetchall()
                    facets[name] = {str(v): int(c) for v, c in counts}
            finally:
                self._conn.execute("COMMIT")
        hits = [SearchHit(id=int(i), score=(b * 1000.0 - float(r) if match else None)) for i, r, b in rows]
        return SearchResult(hits=hits, total=int(total), facets=facets)

    def document_ids(self, index_name: str) -> list[int]:
        check_index_name(index_name)
        with self._lock:
            rows = self._conn.execute(
                "SELECT id FROM fts_docs WHERE index_name = ? ORDER BY id", (index_name,)
            ).fetchall()
        return [int(r[0]) for r in rows]

    def freshness(self) -> dict[str, Any]:
        """Every search reads the file itself: never behind another process's writes."""
        return {"engine": "fts5", "behind": 0}

    def health(self) -> str:
        try:
            with self._lock:
                self._conn.execute("SELECT 1").fetchone()
        except Exception as exc:
            return f"unavailable: {exc}"
        return "ok"
