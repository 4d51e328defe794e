"""Search benchmark: ``python tests/benchmarks/bench_search.py [--sizes 10000 100000] [--runs 3] [--no-fts5]``.

Generates synthetic services (fragments of realistic listings, ten streets, every category), then for each
size measures, per backend:

* full index time (empty -> N services, batches of 1,000; jieba runs here) and reindex time (the same N
  again, replacing every document) for the embedded backend; restart time (rebuild from its SQLite file);
* search latency p50/p99 over a mix of 240 queries (text or empty, filters on status plus random street,
  categories, age, availability, facets on categories and street_ids, all four sorts);
* a naive baseline in the same run: a linear scan in Python with substring matching, filters and facet
  counting (on 60 of the queries, it is slow);
* freshness across processes (the embedded engine's change log): the same query mix with the per-search check
  (``PRAGMA data_version``) and without it (``freshness_interval=None``), in alternating runs of the same process;
  the check alone (nothing changed: the common case); and, after another process (a second backend on the same
  file, as the Celery worker) wrote 1, 100 or 1,000 documents, the first search (which applies up to
  ``INLINE_LIMIT`` of them before answering) and the time until all are applied (more are applied by a
  background thread while searches go on).

Latencies are the median over ``--runs`` runs of the mix (each run reports its p50 and p99).
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from marketplace.indexing.documents import LABELS
from marketplace.resources.taxonomy import CHILD_CATEGORIES, SERVICE_CATEGORIES
from search.embedded import EmbeddedBackend
from search.fts5 import Fts5Backend
from search.port import SearchFilters, SearchQuery

STREETS = list(range(1, 11))
CATS = list(SERVICE_CATEGORIES)
CHILD = list(CHILD_CATEGORIES)
BRANDS = ["护苗", "彩虹桥", "心晴", "筑梦", "阳光", "启航", "春晖", "同行", "守护", "向日葵", "暖心", "成长"]
AUDIENCE = ["留守儿童", "困境儿童", "孤儿", "残疾儿童", "重病儿童", "流动儿童", "单亲家庭儿童", "青少年", "学龄前儿童"]
WHEN = ["周末", "暑期", "寒假", "工作日放学后", "节假日", "每月", "全年"]
FORMS = ["陪伴计划", "关爱行动", "服务项目", "成长营", "小组", "课堂", "支持计划", "个案服务", "工作坊"]
SENTENCES = [
    "由持证社工和志愿者组成服务团队",
    "运用沙盘、绘画治疗等方法缓解焦虑情绪",
    "开展读书会、手工和户外拓展活动",
    "链接爱心企业和基金会资源",
    "为家庭经济困难儿童减免费用",
    "服务结束后出具评估报告并反馈儿童主任",
    "在社区党群服务中心和儿童之家开展",
    "提供一对一个案辅导与跟进",
    "联合学校、医院和派出所协同干预",
    "每期招募十二名儿童，共六节",
    "重点关注监护缺失和失学辍学儿童",
    "开展防溺水、防拐骗、防网络沉迷等安全教育",
    "协助申请低保、临时救助和助学金",
    "上门开展康复训练和家长指导",
    "提供法律咨询和诉讼代理",
    "开设亲子沟通与正面管教课程",
]
QUERIES = [
    "心理辅导",
    "留守 儿童 周末",
    "法律",
    "送教上门 残疾",
    "助学 金",
    "孤独症",
    "康复训练",
    "托管",
    "临时照料",
    "医疗救助",
    "家庭教育",
    "防溺水",
    "热线",
    "监护评估",
    "家访",
    "物资",
    "网瘾",
    "亲子关系",
    "社会融入",
    "政策宣传",
    "儿童主任培训",
    "流浪儿童",
    "重病",
    "困境儿童 心理疏导",
    "暑期 夏令营",
    "护苗",
    "彩虹桥 关爱",
    "儿童",
    "服务",
    "精准帮扶",
    "安全教育 周末",
    "孤儿 助学",
    "残障",
    "法援",
    "心理健康 青少年",
]
SORTS = ["relevance", "relevance", "relevance", "assured_on:desc", "updated_at:desc", "cost_per_case_fen:asc"]


def make_services(n: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    docs = []
    for i in range(1, n + 1):
        cats = rng.sample(CATS, rng.choice([1, 1, 2, 3]))
        child = rng.sample(CHILD, rng.choice([0, 1, 2]))
        labels = [SERVICE_CATEGORIES[c] for c in cats]
        title = f"“{rng.choice(BRANDS)}”{rng.choice(AUDIENCE)}{rng.choice(WHEN)}{labels[0]}{rng.choice(FORMS)}"
        description = (
            "，".join([f"为{rng.choice(AUDIENCE)}提供{'、'.join(labels)}服务", *rng.sample(SENTENCES, 3)]) + "。"
        )
        age_min = rng.choice([0, 3, 6, 10, 12])
        capacity = rng.randint(5, 40)
        docs.append(
            {
                "id": i,
                "title": title,
                "description": description,
                "eligibility": f"{age_min}至18岁，经儿童主任评估转介",
                "organization_id": rng.randint(1, 500),
                "organization_name": f"福田区{rng.choice(BRANDS)}社会工作服务中心{rng.randint(1, 99)}",
                "categories": cats,
                "category_labels": labels,
                "child_categories": child,
                "street_ids": [] if rng.random() < 0.2 else rng.sample(STREETS, rng.choice([1, 1, 2, 3])),
                "age_min": age_min,
                "age_max": rng.choice([12, 14, 16, 18]),
                "status": rng.choices(["published", "paused", "archived", "draft", "pending_review"], [80, 6, 6, 4, 4])[
                    0
                ],
                "capacity_per_month": capacity,
                "capacity_left": max(0, capacity - rng.randint(0, 45)),
                "cost_per_case_fen": rng.randint(0, 200) * 1000,
                "assured_on": None if rng.random() < 0.3 else f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                "updated_at": f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:00:00+08:00",
            }
        )
    return docs


def make_queries(count: int = 240, seed: int = 11) -> list[SearchQuery]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        f: dict[str, Any] = {"status": "published"}
        if rng.random() < 0.6:
            f["street_id"] = rng.choice(STREETS)
        if rng.random() < 0.3:
            f["categories"] = rng.sample(CATS, rng.choice([1, 2]))
        if rng.random() < 0.3:
            f["age"] = rng.randint(0, 18)
        if rng.random() < 0.3:
            f["available"] = True
        q = "" if rng.random() < 0.15 else rng.choice(QUERIES)
        out.append(
            SearchQuery(
                q=q,
                filters=SearchFilters(**f),
                facets=["categories", "street_ids"],
                sort=rng.choice(SORTS),
                limit=20,
                offset=rng.choice([0, 0, 0, 20]),
            )
        )
    return out


class LinearScan:
    """The baseline: every query scans every document in Python."""

    def __init__(self, docs: Sequence[dict[str, Any]]) -> None:
        self.docs = list(docs)

    def search(self, index_name: str, query: SearchQuery) -> list[int]:
        f = query.filters
        words = query.q.split()
        matched: list[tuple[int, dict[str, Any]]] = []
        for d in self.docs:
            statuses = f.statuses()
            if statuses is not None and d["status"] not in statuses:
                continue
            if f.street_id is not None and d["street_ids"] and f.street_id not in d["street_ids"]:
                continue
            if f.categories is not None and not set(f.categories) & set(d["categories"]):
                continue
            if f.age is not None and not d["age_min"] <= f.age <= d["age_max"]:
                continue
            if f.available and d["capacity_left"] <= 0:
                continue
            score = 0
            if words:
                text = d["title"] + d["description"] + "".join(d["category_labels"])
                score = sum(1 for w in words if w in text)
                if score == 0:
                    continue
            matched.append((score, d))
        facets = {name: Counter(v for _, d in matched for v in d[name]) for name in query.facets}
        matched.sort(key=lambda sd: (-sd[0], sd[1]["id"]))
        del facets
        return [d["id"] for _, d in matched[query.offset : query.offset + query.limit]]


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


Latency = tuple[float, float, float, float]  # wall p50, wall p99, cpu p50, cpu p99 (ms)


def time_queries(search: Callable[[str, SearchQuery], Any], queries: Sequence[SearchQuery]) -> Latency:
    wall = []
    cpu = []
    for q in queries:
        t = time.perf_counter()
        c = time.thread_time()
        search("services", q)
        cpu.append((time.thread_time() - c) * 1000)
        wall.append((time.perf_counter() - t) * 1000)
    return percentile(wall, 50), percentile(wall, 99), percentile(cpu, 50), percentile(cpu, 99)


def median_runs(search: Callable[[str, SearchQuery], Any], queries: Sequence[SearchQuery], runs: int) -> Latency:
    search("services", queries[0])  # warm-up (lazy loading, caches)
    results = [time_queries(search, queries) for _ in range(runs)]
    m = [statistics.median(r[i] for r in results) for i in range(4)]
    return m[0], m[1], m[2], m[3]


def fmt(lat: Latency) -> list[str]:
    return [f"{v:.2f}" for v in lat]


def memoize_fts5_segmentation(fts: Fts5Backend) -> None:
    """The FTS5 build is only here for its query latency: segment each clause once (jieba splits at
    punctuation anyway, so tokens are identical) to keep the benchmark short."""
    index_tokens = fts._text.index_tokens
    memo: dict[str, list[str]] = {}

    def cached(text: str | None) -> list[str]:
        out: list[str] = []
        for clause in re.split(r"([，。、“”])", text or ""):
            tokens = memo.get(clause)
            if tokens is None:
                tokens = memo[clause] = index_tokens(clause)
            out.extend(tokens)
        return out

    fts._index_tokens = cached


def index_all(backend: Any, docs: Sequence[dict[str, Any]], batch: int = 1000) -> float:
    t = time.perf_counter()
    for i in range(0, len(docs), batch):
        backend.index("services", docs[i : i + batch])
    return time.perf_counter() - t


def freshness_figures(
    reader: EmbeddedBackend, path: str, docs: Sequence[dict[str, Any]], queries: Sequence[SearchQuery], runs: int
) -> tuple[list[list[str]], list[list[str]]]:
    """Latency rows with and without the per-search check, and the cost of the check and of catching up."""
    n = len(docs)
    with_check: list[Latency] = []
    without: list[Latency] = []
    for _ in range(runs):  # alternate, so both see the same machine load
        reader.freshness_interval = 0.0
        with_check.append(time_queries(reader.search, queries))
        reader.freshness_interval = None
        without.append(time_queries(reader.search, queries))
    reader.freshness_interval = 0.0
    rows = []
    for label, results in (("embedded, check every search", with_check), ("embedded, no check", without)):
        m = [statistics.median(r[i] for r in results) for i in range(4)]
        rows.append([label, f"{n:,}", *fmt((m[0], m[1], m[2], m[3])), str(len(queries))])
    calls = 100_000
    t = time.perf_counter()
    for _ in range(calls):
        reader._refresh()
    check_us = (time.perf_counter() - t) / calls * 1e6
    costs = [[f"{n:,}", "the check alone (nothing changed)", f"{check_us:.2f} us per search", "-"]]
    writer = EmbeddedBackend(path, LABELS)  # another process's backend: it writes, never loads memory
    probe = queries[0]
    for k in (1, 100, 1000):
        changed = [{**d, "title": f"{d['title']}（更新）"} for d in docs[:k]]
        first: list[float] = []
        fresh: list[float] = []
        for _ in range(3):
            writer.index("services", changed)
            t = time.perf_counter()
            reader.search("services", probe)  # applies up to INLINE_LIMIT documents before answering
            first.append((time.perf_counter() - t) * 1000)
            while reader.freshness()["behind"]:  # more: a background thread applies them; searches go on
                time.sleep(0.001)
                reader.search("services", probe)
            fresh.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        reader.search("services", probe)
        plain = (time.perf_counter() - t) * 1000
        costs.append(
            [
                f"{n:,}",
                f"{k:,} documents written by another process",
                f"first search {statistics.median(first):.2f} ms, all applied after {statistics.median(fresh):.2f} ms",
                f"{plain:.2f} ms",
            ]
        )
    writer.close()
    return rows, costs


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(f"\n{title}")
        print(" | ".join(header))
        for row in rows:
            print(" | ".join(row))
        return
    table = Table(title=title)
    for h in header:
        table.add_column(h, justify="right" if h != header[0] else "left")
    for row in rows:
        table.add_row(*row)
    Console().print(table)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-fts5", action="store_true")
    args = parser.parse_args()
    queries = make_queries()
    latency_rows: list[list[str]] = []
    index_rows: list[list[str]] = []
    freshness_rows: list[list[str]] = []
    tmp = Path(tempfile.mkdtemp(prefix="bench_search_"))
    for n in args.sizes:
        docs = make_services(n)
        path = str(tmp / f"embedded_{n}.sqlite3")
        embedded = EmbeddedBackend(path, LABELS)
        embedded.ensure_indexes()
        gc.collect()
        t_index = index_all(embedded, docs)
        t_reindex = index_all(embedded, docs)
        embedded.close()
        t = time.perf_counter()
        restarted = EmbeddedBackend(path, LABELS)
        restarted.ensure_indexes()
        assert restarted.count("services") == n  # the first search (or count) loads memory
        t_restart = time.perf_counter() - t
        index_rows.append([f"embedded {n:,}", f"{t_index:.1f} s", f"{t_reindex:.1f} s", f"{t_restart:.1f} s"])
        lat = median_runs(restarted.search, queries, args.runs)
        p50, p99 = lat[0], lat[1]
        latency_rows.append(["embedded (in-memory)", f"{n:,}", *fmt(lat), str(len(queries))])
        print(
            f"embedded {n}: index {t_index:.1f}s reindex {t_reindex:.1f}s restart {t_restart:.1f}s "
            f"p50 {p50:.2f}ms p99 {p99:.2f}ms",
            flush=True,
        )
        rows, costs = freshness_figures(restarted, path, docs, queries, args.runs)
        latency_rows.extend(rows)
        freshness_rows.extend(costs)
        print(f"freshness {n}: " + "; ".join(f"{c[1]} {c[2]}" for c in costs), flush=True)
        restarted.close()
        if not args.no_fts5:
            fts = Fts5Backend(str(tmp / f"fts_{n}.sqlite3"), LABELS)
            memoize_fts5_segmentation(fts)
            t_fts = index_all(fts, docs)
            index_rows.append([f"fts5 {n:,}", f"{t_fts:.1f} s", "-", "-"])
            fts_runs = args.runs if n <= 10_000 else 1
            lat = median_runs(fts.search, queries, fts_runs)
            p50, p99 = lat[0], lat[1]
            latency_rows.append(["SQLite FTS5", f"{n:,}", *fmt(lat), str(len(queries))])
            print(f"fts5 {n}: index {t_fts:.1f}s p50 {p50:.2f}ms p99 {p99:.2f}ms", flush=True)
        scan = LinearScan(docs)
        lat = median_runs(scan.search, queries[:60], 1 if n > 10_000 else args.runs)
        p50, p99 = lat[0], lat[1]
        latency_rows.append(["baseline: linear scan", f"{n:,}", *fmt(lat), "60"])
        print(f"scan {n}: p50 {p50:.2f}ms p99 {p99:.2f}ms", flush=True)
    print_table(
        f"search latency (ms; median of {args.runs} runs; cpus={os.cpu_count()})",
        ["backend", "services", "p50", "p99", "cpu p50", "cpu p99", "queries"],
        latency_rows,
    )
    print_table("indexing (batches of 1,000)", ["backend", "full index", "reindex all", "restart"], index_rows)
    print_table(
        "freshness across processes (embedded: change log, per-search check)",
        ["services", "what", "cost", "a search without changes"],
        freshness_rows,
    )


if __name__ == "__main__":
    main()
