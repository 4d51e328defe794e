"""The ASGI entry point for granian (``marketplace.asgi:app``)."""

from marketplace.app import create_app, settle_heap
from marketplace.settings import SettingsError, get_settings

try:
    app = create_app(get_settings())
except SettingsError as exc:
    # The message names every variable to set; a traceback would only bury it.
    raise SystemExit(str(exc)) from None
settle_heap(app.state.search)
