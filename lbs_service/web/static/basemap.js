"use strict";
// The basemap under every page's map, served by the app itself (no tile server, no CDN):
// - the operator's PMTiles vector basemap (LBS_BASEMAP_PMTILES, the Protomaps schema) read with HTTP range
//   requests through the `pmtiles` protocol, drawn with the Protomaps light style and Chinese names;
// - otherwise a light default from what ships with the app: land from Natural Earth (npm world-atlas) and the
//   imported district boundaries with their names.
// Labels are drawn with the browser's own fonts (MapLibre renders glyphs locally when a style names no glyph
// server), so Chinese names need no font download. The layers go beneath the page's own.
window.lbsBasemap = (() => {
  const PREFIX = "basemap-";
  const WATER = "#d4e4ee";
  const LAND = "#f6f4ef";
  let protocolAdded = false;

  async function json(path) {
    try {
      const response = await fetch(path);
      return response.ok ? await response.json() : null;
    } catch (error) {
      return null;
    }
  }

  // Layers of ours go under the first layer the page added (whenever the page added it).
  function addBeneath(map, layers) {
    const pageLayer = map.getStyle().layers.find((l) => !l.id.startsWith(PREFIX));
    for (const layer of layers) map.addLayer({ ...layer, id: PREFIX + layer.id }, pageLayer ? pageLayer.id : undefined);
  }

  function protomapsLayers(config) {
    if (!protocolAdded) {
      maplibregl.addProtocol("pmtiles", new pmtiles.Protocol().tile);
      protocolAdded = true;
    }
    // No sprite is served: the layers that only draw icons go, the others keep their text.
    return basemaps.layers("protomaps", basemaps.namedFlavor("light"), { lang: "zh" })
      .filter((layer) => !["roads_oneway", "roads_shields", "pois"].includes(layer.id))
      .map((layer) => {
        if (!layer.layout || !layer.layout["icon-image"]) return layer;
        const layout = { ...layer.layout };
        delete layout["icon-image"];
        return { ...layer, layout };
      });
  }

  async function attachPmtiles(map, config) {
    map.addSource("protomaps", { type: "vector", url: `pmtiles://${location.origin}${config.pmtiles}`,
      attribution: config.attribution });
    addBeneath(map, protomapsLayers(config));
    return "pmtiles";
  }

  async function attachDefault(map, config) {
    map.setPaintProperty(`${PREFIX}background`, "background-color", WATER);
    const topology = window.topojson ? await json("/vendor/world-atlas/land-50m.json") : null;
    const layers = [];
    if (topology) {
      map.addSource(`${PREFIX}land`, { type: "geojson", data: topojson.feature(topology, topology.objects.land),
        attribution: "Land: Natural Earth" });
      layers.push({ id: "land", type: "fill", source: `${PREFIX}land`, paint: { "fill-color": LAND } });
    } else {
      map.setPaintProperty(`${PREFIX}background`, "background-color", LAND);
    }
    const districts = await json("/v1/districts.geojson");
    if (districts && districts.features && districts.features.length) {
      map.addSource(`${PREFIX}districts`, { type: "geojson", data: districts,
        attribution: config.districts_attribution || "Districts: imported boundaries" });
      layers.push(
        { id: "district-fill", type: "fill", source: `${PREFIX}districts`, paint: { "fill-color": "#ebe7de", "fill-opacity": 0.5 } },
        { id: "district-line", type: "line", source: `${PREFIX}districts`,
          paint: { "line-color": "#a59c8c", "line-width": 1, "line-dasharray": [3, 2] } },
        { id: "district-name", type: "symbol", source: `${PREFIX}districts`, minzoom: 8,
          layout: { "text-field": ["get", "name"], "text-font": ["sans-serif"], "text-size": 12 },
          paint: { "text-color": "#6b6357", "text-halo-color": "#ffffff", "text-halo-width": 1.2 } });
    }
    addBeneath(map, layers);
    return "default";
  }

  async function attach(map) {
    const config = (await json("/basemap/config.json")) || { pmtiles: null, attribution: "", districts_attribution: "" };
    const usePmtiles = config.pmtiles && window.pmtiles && window.basemaps;
    const kind = usePmtiles ? await attachPmtiles(map, config) : await attachDefault(map, config);
    map.addControl(new maplibregl.AttributionControl({ compact: false }));
    map.once("idle", () => {
      // What the basemap drew, for whoever checks the page (its tests): its kind, and how many of its features.
      const drawn = map.queryRenderedFeatures();
      const count = (source) => String(drawn.filter((f) => f.source === source).length);
      document.body.dataset.basemapFeatures = count(kind === "pmtiles" ? "protomaps" : `${PREFIX}land`);
      document.body.dataset.basemapDistricts = count(`${PREFIX}districts`);
      document.body.dataset.basemap = kind;
    });
    map.triggerRepaint();
  }

  return { attach, PREFIX };
})();
