"""The ceiling `lbs bench http` compares nearby with: a bare FastAPI endpoint taking nearby's very
parameters (the route's own declarations) and answering a fixed body - a real nearby answer of the
same size - with no search, no middleware and no authentication. Served by plain uvicorn.

The body is read from the file named by LBS_BENCH_BARE_BODY.
"""

import os
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import Response

from lbs_service.routers.params import (
    CategoryQuery,
    CrsQuery,
    EngineQuery,
    LatQuery,
    LimitQuery,
    LngQuery,
    OpenNowQuery,
    RadiusQuery,
    SkuQuery,
)

BODY = Path(os.environ["LBS_BENCH_BARE_BODY"]).read_bytes()

app = FastAPI()


@app.get("/v1/stores/nearby")
async def nearby(lat: LatQuery, lng: LngQuery, radius_m: RadiusQuery = 1000, limit: LimitQuery = 20,
                 category: CategoryQuery = None, open_now: OpenNowQuery = None, crs: CrsQuery = "wgs84",
                 engine: EngineQuery = "memory", sku: SkuQuery = None) -> Response:
    return Response(BODY, media_type="application/geo+json")
