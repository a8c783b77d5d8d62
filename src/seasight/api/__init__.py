"""The HTTP service: REST + a live stream over the store (see :mod:`seasight.api.app`);
every read goes through :mod:`seasight.api.query` and its one policy function ``visible``."""

from seasight.api.app import create_app
from seasight.api.query import Caller, visible

__all__ = ["Caller", "create_app", "visible"]
