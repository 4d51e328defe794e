"""The ASGI entry point for granian (``marketplace.asgi:app``)."""

from marketplace.app import create_app

app = create_app()
