"""The web map: a single static page (``static/index.html``, ``app.js`` with ``symbols.js``,
``app.css``) served by the API at ``/``. The MapLibre GL library it loads, and Swagger UI for
the API page at ``/docs``, are vendored into ``static/vendor/`` by ``web/build.sh`` from the
npm lock file; nothing is fetched from the internet at run time."""

from __future__ import annotations

from pathlib import Path

#: Folder of the page's static files (served at ``/``).
STATIC_DIR = Path(__file__).parent / "static"

#: The vendored library files the page needs (produced by ``web/build.sh``).
VENDOR_FILES = ("vendor/maplibre-gl.js", "vendor/maplibre-gl.css",
                "vendor/swagger-ui/swagger-ui-bundle.js", "vendor/swagger-ui/swagger-ui.css")


def is_built(static_dir: Path = STATIC_DIR) -> bool:
    """True when the page and its vendored libraries are present (``web/build.sh`` has run)."""
    needed = ("index.html", "app.js", "symbols.js", "app.css", *VENDOR_FILES)
    return all((static_dir / name).is_file() for name in needed)


__all__ = ["STATIC_DIR", "VENDOR_FILES", "is_built"]
