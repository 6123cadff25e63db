"""The dashboard: one static HTML page plus its assets, served by the API's own app.

The page is a small HTML + JavaScript app (ES modules, no build step) where people log in with
a username and password (``POST /auth/login``) and then work through the JSON API with the
session cookie, echoing the session's CSRF token on every change. The server side is therefore
only file serving: no templates are rendered with data, no credential is read or echoed here,
and nothing is loaded from a CDN (the charting library is vendored under ``static/vendor/``).
Pages live in ``static/js/pages/`` and are listed in ``static/js/pages/index.js``. This module
imports nothing from tillwise, so it sits outside the layers.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

_HERE = Path(__file__).resolve().parent
STATIC_DIR = _HERE / "static"
TEMPLATES_DIR = _HERE / "templates"

# Everything the page needs comes from this origin; no inline script or style, no framing.
# The page sends no Referer anywhere (old links may still carry a token in the URL).
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def _page(name: str) -> str:
    return (TEMPLATES_DIR / name).read_text(encoding="utf-8")


def mount_dashboard(app: FastAPI) -> None:
    """Serve the dashboard at ``GET /`` and its assets under ``/static``."""

    @app.get("/", include_in_schema=False, response_class=HTMLResponse)
    def dashboard() -> HTMLResponse:
        return HTMLResponse(_page("index.html"), headers=_PAGE_HEADERS)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
