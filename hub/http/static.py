"""The dashboard's files: `/` -> web/index.html, `/static/...` -> web/static/, with exact content types."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from .. import __file__ as _hub_init
from .common import ApiError

# web/ sits beside the hub package: in the repository, and in an install that ships it (see docs/http.md).
WEB_ROOT = Path(_hub_init).resolve().parent.parent / "web"
WEB_ROOT_KEY: web.AppKey[Path] = web.AppKey("web_root")

# Explicit, because the platform's mimetypes table varies (and has said application/x-javascript).
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".ico": "image/x-icon",
    ".webp": "image/webp",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
}


def setup(app: web.Application, root: Path) -> None:
    """Register `/` and `/static/{path}` for the dashboard in `root`."""
    app[WEB_ROOT_KEY] = root
    app.router.add_get("/", index)
    app.router.add_get("/static/{path:.+}", serve)


async def index(request: web.Request) -> web.StreamResponse:
    """The app shell; 503 when the dashboard files are not installed."""
    file = request.app[WEB_ROOT_KEY] / "index.html"
    if not file.is_file():
        raise ApiError(503, "dashboard files not installed")
    return _file_response(file)


async def serve(request: web.Request) -> web.StreamResponse:
    """One file under web/static; nothing outside it, whatever the path says."""
    base = (request.app[WEB_ROOT_KEY] / "static").resolve()
    try:
        file = (base / request.match_info["path"]).resolve()
    except (OSError, ValueError):  # ValueError: a NUL byte (%00) in the path
        raise ApiError(404, "not found") from None
    # resolve() folds '..' and follows symlinks, so this also refuses links that leave web/static.
    if not file.is_relative_to(base) or not file.is_file():
        raise ApiError(404, "not found")
    return _file_response(file)


def _file_response(file: Path) -> web.FileResponse:
    response = web.FileResponse(file)
    response.headers["Content-Type"] = CONTENT_TYPES.get(file.suffix.lower(), "application/octet-stream")
    # No build step means no hashed names: revalidate (ETag / Last-Modified) on every load.
    response.headers["Cache-Control"] = "no-cache"
    return response
