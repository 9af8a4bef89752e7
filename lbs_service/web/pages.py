"""The pages people use. Each is a static HTML file plus its own script; data comes from the API."""

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from lbs_service.socket_protocol import as_script

STATIC = Path(__file__).parent / "static"
router = APIRouter(include_in_schema=False)
# The pages talk to this app only; no third-party origin may load anything into them.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data: blob:; "
                               "style-src 'self' 'unsafe-inline'; worker-src 'self'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def static_files() -> StaticFiles:
    return StaticFiles(directory=STATIC)


def vendor_files(node_modules: Path) -> StaticFiles | None:
    """maplibre-gl from the npm registry (package.json), installed by the set-up with npm ci."""
    dist = node_modules / "maplibre-gl" / "dist"
    return StaticFiles(directory=dist) if dist.is_dir() else None


@router.get("/protocol.js")
async def protocol_script() -> Response:
    """The websocket protocol (socket_protocol.py) for the pages, generated from the server's own module."""
    return Response(as_script(), media_type="text/javascript", headers={"Cache-Control": "no-cache"})


@router.get("/favicon.ico")
async def favicon() -> FileResponse:
    # Browsers ask for this path whatever the page links; an SVG pin answers it (by content type).
    return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml",
                        headers={"Cache-Control": "public, max-age=86400"})


@router.get("/sw.js")
async def service_worker() -> FileResponse:
    """The finder's service worker (Web Push notifications), served from the root so its scope is the app."""
    return FileResponse(STATIC / "sw.js", media_type="text/javascript",
                        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"})


@router.get("/")
async def finder() -> FileResponse:
    return FileResponse(STATIC / "finder.html", headers=SECURITY_HEADERS)


@router.get("/planner")
async def planner() -> FileResponse:
    return FileResponse(STATIC / "planner.html", headers=SECURITY_HEADERS)


@router.get("/console")
async def console() -> FileResponse:
    return FileResponse(STATIC / "console.html", headers=SECURITY_HEADERS)
