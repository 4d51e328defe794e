"""What an operator sees of the running system: structured logs, request ids and Prometheus metrics.

* :mod:`.context`: the request id of the work in hand (a contextvar) and the process's role (serve, worker, beat,
  cli); the lowest layer, read by ``marketplace.errors`` (problem bodies) and ``marketplace.outbox`` (events).
* :mod:`.logs`: the one log configuration of every process (JSON lines, or text for a person at a terminal).
* :mod:`.metrics`: the counters and histograms processes write (multi-process files under the data directory) and
  the scrape that adds the figures read from the database at that moment.
* :mod:`.middleware`: the ASGI wrapper that gives each request its id, its access log line and its counts.

``GET /metrics`` is ``marketplace.monitoring`` (a feature: it reads the outbox and the search index's state and
checks who asks). This package stays in the core layer: the outbox, the errors and the tasks import it.
"""
