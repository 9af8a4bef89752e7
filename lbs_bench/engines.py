"""The nearby engines compared by `lbs bench nearby`, each answering (ids, distances) nearest first.

The competitors are written the way their users would write them, with their fastest client
settings (psycopg prepared statements, redis-py with hiredis); nothing of ours sits in their path.
"""

import io
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from geo_index import RadiusIndex

Answer = tuple[list[int], list[float]]


class Engine(Protocol):
    name: str

    def load(self, ids: npt.NDArray[np.int64], points: npt.NDArray[np.float64]) -> None: ...
    def query(self, lat: float, lng: float, radius_m: float) -> Answer: ...
    def close(self) -> None: ...


class MemoryEngine:
    name = "memory"

    def __init__(self) -> None:
        self.index = RadiusIndex()

    def load(self, ids: npt.NDArray[np.int64], points: npt.NDArray[np.float64]) -> None:
        self.index = RadiusIndex.build(ids, points[:, 0], points[:, 1])

    def query(self, lat: float, lng: float, radius_m: float) -> Answer:
        result = self.index.nearby(lat, lng, radius_m)
        return result.ids.tolist(), result.distances_m.tolist()

    def query_arrays(self, lat: float, lng: float, radius_m: float) -> object:
        """What an in-process caller gets: numpy arrays, no Python objects per hit."""
        return self.index.nearby(lat, lng, radius_m)

    def close(self) -> None:
        pass


class PostgisEngine:
    """The exact PostGIS query: geography + GiST, ST_DWithin/ST_Distance with use_spheroid=false."""

    name = "postgis"
    _SQL = (
        "SELECT id, ST_Distance(geog, q, false) AS d FROM lbs_bench_stores, "
        "(SELECT ST_SetSRID(ST_MakePoint(%(lng)s, %(lat)s), 4326)::geography AS q) AS here "
        "WHERE ST_DWithin(geog, q, %(r)s, false) ORDER BY d, id"
    )

    def __init__(self, url: str) -> None:
        import psycopg

        self.connection = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
        self.connection.execute("CREATE EXTENSION IF NOT EXISTS postgis")

    def load(self, ids: npt.NDArray[np.int64], points: npt.NDArray[np.float64]) -> None:
        c = self.connection
        c.execute("DROP TABLE IF EXISTS lbs_bench_stores")
        c.execute("CREATE UNLOGGED TABLE lbs_bench_stores (id bigint PRIMARY KEY, lat float8, lng float8)")
        buffer = io.StringIO()
        np.savetxt(buffer, np.column_stack((ids, points[:, 0], points[:, 1])), fmt=["%d", "%.15g", "%.15g"],
                   delimiter="\t")
        with c.cursor() as cursor, cursor.copy("COPY lbs_bench_stores (id, lat, lng) FROM STDIN") as copy:
            copy.write(buffer.getvalue())
        c.execute("ALTER TABLE lbs_bench_stores ADD COLUMN geog geography(Point, 4326)")
        c.execute("UPDATE lbs_bench_stores SET geog = ST_SetSRID(ST_MakePoint(lng, lat), 4326)::geography")
        c.execute("CREATE INDEX ON lbs_bench_stores USING gist (geog)")
        c.execute("VACUUM ANALYZE lbs_bench_stores")

    def query(self, lat: float, lng: float, radius_m: float) -> Answer:
        rows = self.connection.execute(self._SQL, {"lat": lat, "lng": lng, "r": radius_m}, prepare=True).fetchall()
        return [r[0] for r in rows], [r[1] for r in rows]

    def close(self) -> None:
        self.connection.execute("DROP TABLE IF EXISTS lbs_bench_stores")
        self.connection.close()


class RedisEngine:
    """Redis GEO: GEOSEARCH BYRADIUS ... WITHDIST ASC (52-bit geohash, its own earth radius)."""

    name = "redis"
    KEY = "lbs:bench:stores"

    def __init__(self, url: str) -> None:
        import redis

        self.client: Any = redis.Redis.from_url(url)
        self.client.ping()

    def load(self, ids: npt.NDArray[np.int64], points: npt.NDArray[np.float64]) -> None:
        self.client.delete(self.KEY)
        batch = 10_000
        for begin in range(0, len(ids), batch):
            values: list[float | int] = []
            for i, (lat, lng) in zip(ids[begin : begin + batch].tolist(), points[begin : begin + batch].tolist(),
                                     strict=True):
                values.extend((lng, lat, i))
            self.client.execute_command("GEOADD", self.KEY, *values)

    def query(self, lat: float, lng: float, radius_m: float) -> Answer:
        rows = self.client.execute_command("GEOSEARCH", self.KEY, "FROMLONLAT", lng, lat, "BYRADIUS", radius_m, "m",
                                           "ASC", "WITHDIST")
        return [int(r[0]) for r in rows], [float(r[1]) for r in rows]

    def close(self) -> None:
        self.client.delete(self.KEY)
        self.client.close()
