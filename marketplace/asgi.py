"""The ASGI entry point for granian (``marketplace.asgi:app``)."""

from marketplace.app import create_app, settle_heap
from marketplace.observability import logs, metrics
from marketplace.settings import SettingsError, get_settings

try:
    logs.configure_logging(get_settings(), role="serve")
    metrics.use_directory(get_settings(), "serve")  # the serve command removed the dead processes' files
    app = create_app(get_settings())
except SettingsError as exc:
    # The message names every variable to set; a traceback would only bury it.
    raise SystemExit(str(exc)) from None
settle_heap(app.state.search)
