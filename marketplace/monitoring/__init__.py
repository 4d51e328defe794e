"""``GET /metrics``: the operator's Prometheus scrape (``marketplace.observability`` holds what it reports)."""
