"""The pages people use. Each is a static HTML file plus its own script; data comes from the API."""

import logging
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from lbs_service.socket_protocol import as_script

STATIC = Path(__file__).parent / "static"
log = logging.getLogger(__name__)
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


# Front-end libraries from the npm registry (package.json), installed by the set-up with npm ci, and
# the address each is served at: /vendor/<name>/.
VENDOR = {"maplibre-gl": "maplibre-gl/dist", "pmtiles": "pmtiles/dist", "basemaps": "@protomaps/basemaps/dist",
          "topojson-client": "topojson-client/dist", "world-atlas": "world-atlas"}


def vendor_mounts(node_modules: Path) -> list[tuple[str, StaticFiles]]:
    """The libraries that are installed (without `npm ci` the pages say the map library is missing)."""
    return [(f"/vendor/{name}", StaticFiles(directory=node_modules / folder))
            for name, folder in VENDOR.items() if (node_modules / folder).is_dir()]


def basemap_router(pmtiles: Path | None, attribution: str, districts_attribution: str) -> APIRouter:
    """The basemap the pages draw: the operator's PMTiles file, read by the browser with range requests."""
    basemap = APIRouter(include_in_schema=False)
    if pmtiles is not None and not pmtiles.is_file():
        log.warning("LBS_BASEMAP_PMTILES names no file: the pages draw their default basemap")

    def served() -> Path | None:  # looked at on each request: a file replaced or removed is noticed
        return pmtiles if pmtiles is not None and pmtiles.is_file() else None

    @basemap.get("/basemap/config.json")
    async def config() -> JSONResponse:
        return JSONResponse({"pmtiles": "/basemap/tiles.pmtiles" if served() else None, "attribution": attribution,
                             "districts_attribution": districts_attribution}, headers={"Cache-Control": "no-cache"})

    @basemap.api_route("/basemap/tiles.pmtiles", methods=["GET", "HEAD"])
    async def tiles() -> Response:
        path = served()
        if path is None:
            return Response(status_code=404)
        # FileResponse answers Range requests (206, one or several ranges): the browser reads the
        # archive's header, directories and tiles as it needs them, never the whole file.
        return FileResponse(path, media_type="application/vnd.pmtiles", headers={"Cache-Control": "no-cache"})

    return basemap


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


@router.get("/merchant")
async def merchant() -> FileResponse:
    return FileResponse(STATIC / "merchant.html", headers=SECURITY_HEADERS)


@router.get("/console")
async def console() -> FileResponse:
    return FileResponse(STATIC / "console.html", headers=SECURITY_HEADERS)
