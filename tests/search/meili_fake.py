"""A tiny local HTTP stand-in for a Meilisearch server, for the unit tests of the request shapes and error paths
of search/meili.py (tests/search/test_meili_unit.py).

It is NOT Meilisearch and checks nothing of its search: it records every request, keeps indexes, settings and
document ids in dicts, answers each write with a task that has already succeeded (unless a test scripts a
failure), and answers a search by paging through ``search_ids`` with ``page``/``hitsPerPage``. What a real server
does with the settings and the queries is the contract suite's (``MEILI_URL=… make test-meilisearch``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Reply = tuple[int, Any]


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    headers: dict[str, str]


@dataclass
class FakeMeili:
    version: str = "1.12.3"
    key: str | None = None
    indexes: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    search_ids: list[int] = field(default_factory=list)
    connections: int = 0
    # (method, path) -> a reply given instead of the fake's own (once per entry in the list)
    scripted: dict[tuple[str, str], list[Reply]] = field(default_factory=dict)
    # task type -> the error its task fails with (e.g. {"indexCreation": "index_already_exists"})
    failing_tasks: dict[str, str] = field(default_factory=dict)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def calls(self, method: str | None = None) -> list[tuple[str, str]]:
        return [(r.method, r.path) for r in self.requests if method is None or r.method == method]

    def _task(self, kind: str, uid: str | None) -> Reply:
        n = len(self.tasks) + 1
        code = self.failing_tasks.get(kind)
        task: dict[str, Any] = {"uid": n, "type": kind, "indexUid": uid, "status": "succeeded", "error": None}
        if code:
            task.update(status="failed", error={"code": code, "message": f"scripted {code}"})
        self.tasks[n] = task
        return 202, {"taskUid": n, "indexUid": uid, "status": "enqueued", "type": kind}

    def answer(self, req: Request) -> Reply:
        scripted = self.scripted.get((req.method, req.path))
        if scripted:
            return scripted.pop(0)
        if self.key is not None and req.headers.get("authorization") != f"Bearer {self.key}":
            return 403, {"code": "invalid_api_key", "message": "The provided API key is invalid."}
        parts = [p for p in req.path.split("/") if p]
        if parts == ["version"]:
            return 200, {"pkgVersion": self.version}
        if parts[:1] == ["tasks"]:
            if len(parts) == 2:
                return 200, self.tasks[int(parts[1])]
            return 200, {"results": [], "total": 0}
        if parts == ["indexes"] and req.method == "POST":
            uid = req.body["uid"]
            reply = self._task("indexCreation", uid)
            task = self.tasks[len(self.tasks)]
            if uid in self.indexes:  # as the server: the creation task fails, the index stays as it was
                task.update(status="failed", error={"code": "index_already_exists", "message": "exists"})
            elif task["status"] == "succeeded":
                self.indexes[uid] = {"settings": {}, "ids": set()}
            return reply
        if parts == ["swap-indexes"]:
            a, b = req.body[0]["indexes"]
            self.indexes[a], self.indexes[b] = self.indexes[b], self.indexes[a]
            return self._task("indexSwap", None)
        if parts[:1] == ["indexes"]:
            uid = parts[1]
            index = self.indexes.get(uid)
            if index is None:
                return 404, {"code": "index_not_found", "message": f"Index `{uid}` not found."}
            rest = parts[2:]
            if rest == [] and req.method == "GET":
                return 200, {"uid": uid, "primaryKey": "id"}
            if rest == [] and req.method == "DELETE":
                del self.indexes[uid]
                return self._task("indexDeletion", uid)
            if rest == ["settings"] and req.method == "GET":
                return 200, index["settings"]
            if rest == ["settings"] and req.method == "PATCH":
                index["settings"] = {**index["settings"], **req.body}
                return self._task("settingsUpdate", uid)
            if rest == ["stats"]:
                return 200, {"numberOfDocuments": len(index["ids"]), "isIndexing": False}
            if rest == ["documents"] and req.method == "POST":
                index["ids"].update(int(d["id"]) for d in req.body)
                return self._task("documentAdditionOrUpdate", uid)
            if rest == ["documents"] and req.method == "DELETE":
                index["ids"].clear()
                return self._task("documentDeletion", uid)
            if rest == ["documents"] and req.method == "GET":
                ids = sorted(index["ids"])
                offset, limit = int(req.query["offset"][0]), int(req.query["limit"][0])
                return 200, {"results": [{"id": i} for i in ids[offset : offset + limit]], "total": len(ids)}
            if rest == ["documents", "delete"]:
                return self._task("documentDeletion", uid)
            if rest == ["search"]:
                page, size = int(req.body["page"]), int(req.body["hitsPerPage"])
                chosen = self.search_ids[(page - 1) * size : page * size]
                return 200, {
                    "hits": [{"id": i, "_rankingScore": 0.5} for i in chosen],
                    "totalHits": len(self.search_ids),
                    "page": page,
                    "hitsPerPage": size,
                    "facetDistribution": {"status": {"published": len(self.search_ids)}},
                }
        return 404, {"code": "not_found", "message": req.path}


def _handler(fake: FakeMeili) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real server
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall per request

        def setup(self) -> None:
            super().setup()
            with fake.lock:
                fake.connections += 1

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _serve(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            req = Request(
                method=self.command,
                path=url.path,
                query=parse_qs(url.query),
                body=json.loads(raw) if raw else None,
                headers={k.lower(): v for k, v in self.headers.items()},
            )
            with fake.lock:
                fake.requests.append(req)
                status, payload = fake.answer(req)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    return Handler


@contextmanager
def serve(fake: FakeMeili) -> Iterator[FakeMeili]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
