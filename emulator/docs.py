"""The API docs (/docs, /redoc) with their assets served from the package, and `/` for a browser.

FastAPI's own docs pages load Swagger UI, ReDoc, a favicon and Google Fonts from CDNs, so
they are blank offline. These are the same pages (FastAPI, "Custom Docs UI Static Assets
(Self-Hosting)") pointed at the copies vendored in static/vendor/ (its README: versions,
licences). They are not part of the control surface: the API docs stay with EMULATOR_CONTROL=off.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from emulator.control import ui
from emulator.errors import NotFoundRoute

ASSETS_URL = "/docs/static"
VENDOR = Path(__file__).resolve().parent / "static" / "vendor"
# Served by name: an allow-list, so no path from the URL ever reaches the file system.
ASSETS = {
    "swagger-ui-bundle.js": VENDOR / "swagger-ui-dist" / "swagger-ui-bundle.js",
    "swagger-ui.css": VENDOR / "swagger-ui-dist" / "swagger-ui.css",
    "favicon.png": VENDOR / "swagger-ui-dist" / "favicon-32x32.png",
    "redoc.standalone.js": VENDOR / "redoc" / "redoc.standalone.js",
}
CACHE = {"Cache-Control": "public, max-age=3600"}
# Keeps every request the pages make on the emulator, whatever the schema's text links to:
# ReDoc 2's side menu shows Redocly's logo from Redocly's CDN (and hides it when it fails to
# load). Inline script and styles: FastAPI's Swagger page starts the UI inline, ReDoc styles
# its components inline and parses the schema in a blob: worker; the icons are data: URIs.
POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "worker-src 'self' blob:",
        "connect-src 'self'",
    ]
)

router = APIRouter(include_in_schema=False)


def _asset(request: Request, name: str) -> str:
    # Behind a proxy that strips a prefix, as FastAPI's own docs pages do.
    return f"{request.scope.get('root_path', '').rstrip('/')}{ASSETS_URL}/{name}"


def _openapi_url(request: Request) -> str:
    return f"{request.scope.get('root_path', '').rstrip('/')}{request.app.openapi_url}"


@router.get("/")
async def root(request: Request) -> RedirectResponse:
    """A browser at the bare address lands on the dashboard, or on the API docs without it."""
    on = request.app.state.ctx.settings.control == "on"
    return RedirectResponse(ui.PREFIX if on else "/docs", status_code=307)


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    page = get_swagger_ui_html(
        openapi_url=_openapi_url(request),
        title=f"{request.app.title} - Swagger UI",
        swagger_js_url=_asset(request, "swagger-ui-bundle.js"),
        swagger_css_url=_asset(request, "swagger-ui.css"),
        swagger_favicon_url=_asset(request, "favicon.png"),
        oauth2_redirect_url=None,  # no OAuth2 here: signatures and Basic auth only
        # Swagger UI would send the schema to validator.swagger.io for its badge whenever the
        # page is not on localhost (a LAN address, a container's name).
        swagger_ui_parameters={"validatorUrl": None},
    )
    page.headers["Content-Security-Policy"] = POLICY
    return page


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    page = get_redoc_html(
        openapi_url=_openapi_url(request),
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=_asset(request, "redoc.standalone.js"),
        redoc_favicon_url=_asset(request, "favicon.png"),
        with_google_fonts=False,  # fonts.googleapis.com: ReDoc falls back to system fonts
    )
    page.headers["Content-Security-Policy"] = POLICY
    return page


@router.get(f"{ASSETS_URL}/{{name}}")
async def asset(name: str) -> FileResponse:
    path = ASSETS.get(name)
    if path is None:
        raise NotFoundRoute(f"no route {ASSETS_URL}/{name}")
    return FileResponse(path, headers=CACHE)
