"use strict";
// The planner: H3 cells of a district coloured by coverage, demand or gaps - of every outlet, or of
// one merchant's or one kind's - with district boundaries, stores, outlet performance (visits,
// redemptions, orders: sized circles, withheld below k people), greedy site suggestions named by
// street and district, what-if candidates added by clicking, and exports. Cells are computed by the
// server and arrive as GeoJSON polygons.
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
  const OUTLET_FIGURES = ["visits", "redemptions", "orders"]; // the performance layers (per store)
  const map = lbs.map("map", { center: [116.4, 39.95], zoom: 9, background: "#f2efe9" });

  map.on("load", async () => {
    const empty = { type: "FeatureCollection", features: [] };
    for (const id of ["cells", "districts", "stores", "performance", "sites", "candidates"]) {
      map.addSource(id, { type: "geojson", data: empty });
    }
    map.addLayer({ id: "cells", type: "fill", source: "cells", paint: { "fill-opacity": 0.65, "fill-color": "#ccc" } });
    map.addLayer({ id: "districts", type: "line", source: "districts", paint: { "line-color": "#233554", "line-width": 1.2 } });
    map.addLayer({ id: "stores", type: "circle", source: "stores",
      paint: { "circle-radius": 3, "circle-color": "#233554", "circle-stroke-color": "#fff", "circle-stroke-width": 1 } });
    map.addLayer({ id: "performance", type: "circle", source: "performance", layout: { visibility: "none" },
      paint: { "circle-color": ["case", ["==", ["get", "value"], null], "#9e9e9e", "#e6550d"], "circle-opacity": 0.8,
        "circle-radius": ["case", ["==", ["get", "value"], null], 4,
          ["interpolate", ["linear"], ["sqrt", ["get", "value"]], 0, 3, 10, 18]],
        "circle-stroke-color": "#fff", "circle-stroke-width": 1 } });
    map.addLayer({ id: "sites", type: "circle", source: "sites",
      paint: { "circle-radius": 7, "circle-color": "#7b3294", "circle-stroke-color": "#fff", "circle-stroke-width": 2 } });
    map.addLayer({ id: "candidates", type: "circle", source: "candidates",
      paint: { "circle-radius": 6, "circle-color": "#000", "circle-stroke-color": "#fff", "circle-stroke-width": 2 } });
    const [boundaries, listed, merchants, kinds] = await Promise.all([lbs.api("/v1/districts.geojson"),
      lbs.api("/v1/districts"), lbs.api("/v1/merchants"), lbs.api("/v1/categories")]);
    if (merchants.ok) $("merchant").append(...merchants.body.map((m) => new Option(`${m.name} (${m.stores})`, m.id)));
    if (kinds.ok) $("category").append(...kinds.body.categories.map((k) => new Option(k.replace(/_/g, " "), k)));
    if (!boundaries.ok || !listed.ok) { $("summary").textContent = boundaries.error || listed.error; return; }
    map.getSource("districts").setData(boundaries.body);
    const districts = listed.body;
    $("district").replaceChildren(...districts.map((d) => new Option(`${d.name} (${d.code})`, d.code)));
    if (params.get("district")) $("district").value = params.get("district");
    for (const id of ["district", "res", "merchant", "category"]) {
      $(id).addEventListener("change", () => { candidates.length = 0; load(); });
    }
    $("theme").addEventListener("change", () => { paint(); showPerformance(); });
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
    if ($("merchant").value) q.set("merchant_id", $("merchant").value);
    if ($("category").value) q.set("category", $("category").value);
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
      const item = lbs.el("li", `${site.name || `${site.lat.toFixed(4)}, ${site.lng.toFixed(4)}`}: `
        + `would cover ${site.gained_demand} more people`, null, { "data-testid": "site" });
      item.title = `${site.lat.toFixed(5)}, ${site.lng.toFixed(5)}`
        + (site.near_store ? ` · ${Math.round(site.near_m)} m from ${site.near_store}` : "");
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
    area = bounds;
    await showStores(bounds);
    if (!candidates.length && !bounds.isEmpty()) map.fitBounds(bounds, { padding: 20, duration: 0 });
    paint();
    await showPerformance();
  }

  let area = null; // the bounds of the cells drawn

  // Outlet performance: one circle per store in the area, sized by the chosen figure of the last full week
  // (grey where fewer than k people make it up and the server withholds it).
  async function showPerformance() {
    const figure = $("theme").value;
    const shown = OUTLET_FIGURES.includes(figure);
    map.setLayoutProperty("performance", "visibility", shown ? "visible" : "none");
    map.setPaintProperty("cells", "fill-opacity", shown ? 0.2 : 0.65);
    if (!shown || !area || area.isEmpty()) return;
    const query = new URLSearchParams({ bbox: area.toArray().flat().map((v) => v.toFixed(5)).join(",") });
    if ($("merchant").value) query.set("merchant_id", $("merchant").value);
    if ($("category").value) query.set("category", $("category").value);
    const report = await lbs.api(`/v1/reports/stores/performance?${query}`, { token });
    if (!report.ok) { $("summary").textContent = report.error; return; }
    map.getSource("performance").setData({ type: "FeatureCollection", features: report.body.stores.map((s) => ({
      type: "Feature", geometry: { type: "Point", coordinates: [s.lng, s.lat] },
      properties: { name: s.name, value: s[figure] } })) });
    const counted = report.body.stores.filter((s) => s[figure] !== null);
    const total = counted.reduce((sum, s) => sum + s[figure], 0);
    $("legend").replaceChildren(lbs.el("div", `${figure} per outlet in week ${report.body.week}: ${total} in all`),
      lbs.el("div", `grey: fewer than ${report.body.k} people (withheld)`));
    document.body.dataset.performanceBbox = query.get("bbox");
    document.body.dataset.performance = String(report.body.stores.length);
  }

  async function showStores(bounds) {
    // The stores around the district: the nearest 1,000 to its centre within the farthest corner.
    if (bounds.isEmpty()) return;
    const centre = bounds.getCenter();
    const corner = bounds.getNorthEast();
    const reach = Math.min(50000, Math.ceil(centre.distanceTo(corner)) + 1000);
    const query = new URLSearchParams({ lat: centre.lat, lng: centre.lng, radius_m: reach, limit: 1000 });
    if ($("category").value) query.set("category", $("category").value);
    const response = await lbs.api(`/v1/stores/nearby?${query}`);
    if (!response.ok) return;
    const stores = response.body;
    const merchant = Number($("merchant").value) || null;
    // Nearby filters by kind; one merchant's are picked here, from the nearest 1,000 of that kind.
    stores.features = stores.features.filter((f) => !merchant || f.properties.merchant_id === merchant);
    map.getSource("stores").setData(stores);
    $("store-count").textContent = String(stores.features.length)
      + (stores.numberMatched > stores.numberReturned ? ` (of the nearest ${stores.numberReturned})` : "");
  }

  function paint() {
    const theme = THEMES[$("theme").value] || THEMES.coverage;
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
