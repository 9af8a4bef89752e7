"""Real GPS noise at fence edges: count enter/exit flaps over all GeoLife traces against the real
China stores, with exact settings and with the defaults (hysteresis, accuracy gate) plus dwell."""

import csv

import numpy as np

from geo_index import RadiusIndex
from geo_index.datum import gcj02_to_wgs84
from geo_index.fences import Enter, FenceConfig, Fix, UserFences, step
from lbs_bench.geolife import read_plt, trajectories
from tests.reference import need_shared


def count_enters(config, index, traces):
    enters = 0
    for fixes in traces:
        state = UserFences()
        for f in fixes:
            hits = index.nearby(f.lat, f.lng, config.exit_radius_m)
            result = step(config, state, Fix(f.lat, f.lng, f.ts.timestamp(), 10.0),
                          zip(hits.ids.tolist(), hits.distances_m.tolist(), strict=True))
            enters += sum(isinstance(e, Enter) for e in result.events)
    return enters


def test_hysteresis_and_dwell_remove_edge_flaps_on_real_traces(capsys):
    with need_shared("stores_cn_starbucks_2024.csv").open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["city"].startswith("北京")]
    wgs = np.array([gcj02_to_wgs84(float(r["lat_gcj02"]), float(r["lon_gcj02"])) for r in rows])
    index = RadiusIndex.build(np.arange(len(wgs)), wgs[:, 0], wgs[:, 1])
    traces = [read_plt(path) for _, path in trajectories(need_shared("geolife"))]
    exact = count_enters(FenceConfig(1000, 1000, 0, 0, 0), index, traces)
    hysteresis = count_enters(FenceConfig(1000, 1100, 0, 0, 0), index, traces)
    damped = count_enters(FenceConfig(1000, 1100, 30, 0, 0), index, traces)
    with capsys.disabled():
        print(f"\nGeoLife x Beijing stores, enters: exact {exact}, "
              f"+100 m hysteresis {hysteresis}, +30 s dwell {damped}")
    assert hysteresis < 0.9 * exact  # re-entries after sub-100 m excursions are gone
    assert damped < hysteresis
