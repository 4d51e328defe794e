"""Idempotency keys: a client that retries a creating POST with the same ``Idempotency-Key`` gets the first answer.

``service`` holds the rules and the table's reads and writes, ``middleware`` the HTTP side (the header, the
console's hidden field, the replay), ``jobs`` the purge of expired keys. docs/api.md describes the contract.
"""
