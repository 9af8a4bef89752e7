"use strict";
// The planner: H3 cells of a district coloured by coverage, demand or gaps, with district
// boundaries, stores, greedy site suggestions, what-if candidates added by clicking, and exports.
// Cells are computed by the server and arrive as GeoJSON polygons.
(() => {
  const $ = (id) => document.getElementById(id);
  const { token, params } = lbs.session("lbs-planner-token");
  const candidates = [];
  const THEMES = {
    coverage: { property: "stores_within", stops: [[0, "#d73027", "no store within reach"], [1, "#fee08b", "1 store"],
      [3, "#66bd63", "3+ stores"], [8, "#1a9850", "8+ stores"]] },
    demand: { property: "demand", stops: [[0, "#f7fbff", "no data / suppressed"], [5, "#9ecae1", "5+ users"],
      [20, "#4292c6", "20+ users"], [50, "#08519c", "50+ users"]] },
    gaps: { property: "gap", stops: [[0, "#eeeeee", "covered or no demand"], [1, "#d73027", "uncovered demand"]] },
  };
  const map = lbs.map("map", { center: [116.4, 39.95], zoom: 9, background: "#f2efe9" });

  map.on("load", async () => {
    const empty = { type: "FeatureCollection", features: [] };
    for (const id of ["cells", "districts", "stores", "sites", "candidates"]) {
      map.addSource(id, { type: "geojson", data: empty });
    }
    map.addLayer({ id: "cells", type: "fill", source: "cells", paint: { "fill-opacity": 0.65, "fill-color": "#ccc" } });
    map.addLayer({ id: "districts", type: "line", source: "districts", paint: { "line-color": "#233554", "line-width": 1.2 } });
    map.addLayer({ id: "stores", type: "circle", source: "stores",
      paint: { "circle-radius": 3, "circle-color": "#233554", "circle-stroke-color": "#fff", "circle-stroke-width": 1 } });
    map.addLayer({ id: "sites", type: "circle", source: "sites",
      paint: { "circle-radius": 7, "circle-color": "#7b3294", "circle-stroke-color": "#fff", "circle-stroke-width": 2 } });
    map.addLayer({ id: "candidates", type: "circle", source: "candidates",
      paint: { "circle-radius": 6, "circle-color": "#000", "circle-stroke-color": "#fff", "circle-stroke-width": 2 } });
    const [boundaries, listed] = await Promise.all([lbs.api("/v1/districts.geojson"), lbs.api("/v1/districts")]);
    if (!boundaries.ok || !listed.ok) { $("summary").textContent = boundaries.error || listed.error; return; }
    map.getSource("districts").setData(boundaries.body);
    const districts = listed.body;
    $("district").replaceChildren(...districts.map((d) => new Option(`${d.name} (${d.code})`, d.code)));
    if (params.get("district")) $("district").value = params.get("district");
    for (const id of ["district", "res"]) $(id).addEventListener("change", () => { candidates.length = 0; load(); });
    $("theme").addEventListener("change", paint);
    document.body.dataset.mapReady = "true";
    if (districts.length) await load();
  });

  map.on("click", (event) => {
    candidates.push([event.lngLat.lat, event.lngLat.lng]);
    load();
  });
  $("clear-what-if").addEventListener("click", () => { candidates.length = 0; load(); });

  function query(extra = {}) {
    const q = new URLSearchParams({ district: $("district").value, res: $("res").value, ...extra });
    if (candidates.length) q.set("add", candidates.map(([lat, lng]) => `${lat.toFixed(6)},${lng.toFixed(6)}`).join(";"));
    return q;
  }

  let cells = { type: "FeatureCollection", features: [] };

  let loading = null; // the computation in flight: a newer question cancels it (and frees its slot)

  async function load() {
    if (loading) loading.abort();
    const controller = new AbortController();
    loading = controller;
    $("summary").textContent = "Computing…";
    const [coverage, gaps] = await Promise.all([
      lbs.api(`/v1/coverage?${query()}`, { token, signal: controller.signal }),
      lbs.api(`/v1/coverage/gaps?${query({ suggest: 5 })}`, { token, signal: controller.signal }),
    ]);
    if (controller.signal.aborted) return;
    loading = null;
    if (!coverage.ok) { $("summary").textContent = coverage.error; return; }
    cells = coverage.body;
    const gapInfo = gaps.ok ? gaps.body : { gaps: [], suggestions: [], demand: {} };
    const gapCells = new Set(gapInfo.gaps.map((g) => g.cell));
    for (const feature of cells.features) feature.properties.gap = gapCells.has(feature.properties.cell) ? 1 : 0;
    map.getSource("cells").setData(cells);
    $("cell-count").textContent = String(cells.features.length);
    const s = cells.summary;
    const d = gapInfo.demand || {};
    $("summary").textContent = `${s.covered} of ${s.cells} cells within ${s.radius_m} m of a store`
      + (d.total ? `; demand covered ${d.covered} of ${d.total} users` : "") + ".";
    map.getSource("sites").setData({ type: "FeatureCollection", features: gapInfo.suggestions.map((site) => ({
      type: "Feature", geometry: { type: "Point", coordinates: [site.lng, site.lat] }, properties: site })) });
    $("suggestions").replaceChildren(...gapInfo.suggestions.map((site) => {
      const item = document.createElement("li");
      item.textContent = `${site.lat.toFixed(4)}, ${site.lng.toFixed(4)}: +${site.gained_demand} users`;
      return item;
    }));
    map.getSource("candidates").setData({ type: "FeatureCollection", features: candidates.map(([lat, lng]) => ({
      type: "Feature", geometry: { type: "Point", coordinates: [lng, lat] }, properties: {} })) });
    $("what-if").replaceChildren(...candidates.map(([lat, lng]) => {
      const item = document.createElement("li");
      item.textContent = `${lat.toFixed(4)}, ${lng.toFixed(4)}`;
      return item;
    }));
    const bounds = new maplibregl.LngLatBounds();
    for (const feature of cells.features) for (const point of feature.geometry.coordinates[0]) bounds.extend(point);
    await showStores(bounds);
    if (!candidates.length && !bounds.isEmpty()) map.fitBounds(bounds, { padding: 20, duration: 0 });
    paint();
  }

  async function showStores(bounds) {
    // The stores around the district: the nearest 1,000 to its centre within the farthest corner.
    if (bounds.isEmpty()) return;
    const centre = bounds.getCenter();
    const corner = bounds.getNorthEast();
    const reach = Math.min(50000, Math.ceil(centre.distanceTo(corner)) + 1000);
    const query = new URLSearchParams({ lat: centre.lat, lng: centre.lng, radius_m: reach, limit: 1000 });
    const response = await lbs.api(`/v1/stores/nearby?${query}`);
    if (!response.ok) return;
    const stores = response.body;
    map.getSource("stores").setData(stores);
    $("store-count").textContent = String(stores.numberReturned);
  }

  function paint() {
    const theme = THEMES[$("theme").value];
    const steps = ["step", ["coalesce", ["get", theme.property], 0], theme.stops[0][1]];
    for (const [value, color] of theme.stops.slice(1)) steps.push(value, color);
    if (map.getLayer("cells")) map.setPaintProperty("cells", "fill-color", steps);
    $("legend").replaceChildren(...theme.stops.map(([, color, label]) => {
      const row = document.createElement("div");
      const swatch = document.createElement("span");
      swatch.style.background = color;
      row.append(swatch, label);
      return row;
    }));
  }

  async function download(format) {
    const name = `coverage-${$("district").value}-res${$("res").value}.${format === "csv" ? "csv" : "geojson"}`;
    const failure = await lbs.download(`/v1/coverage?${query({ format })}`, token, name);
    if (failure) $("summary").textContent = failure;
  }
  $("export-geojson").addEventListener("click", () => download("geojson"));
  $("export-csv").addEventListener("click", () => download("csv"));
})();
