"use strict";
// The store finder: tap the map or locate yourself, see the nearest stores in a list and on the
// map in step, filter, open a store's card with its hours and offers, claim an offer and show its
// QR; signed-in users also get live promotions. Everything comes from this app's own API.
(() => {
  const $ = (id) => document.getElementById(id);
  const { token, params } = lbsSession("lbs-user-token");
  const auth = token ? { Authorization: `Bearer ${token}` } : {};
  const state = { point: null, category: null, stores: [] };
  const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

  if (typeof maplibregl === "undefined") {
    $("status").textContent = "The map library is not installed (run the set-up: npm ci).";
    return;
  }
  maplibregl.setWorkerUrl("/vendor/maplibre-gl/maplibre-gl-csp-worker.js");
  const map = new maplibregl.Map({
    container: "map",
    // A local style: no tile server, only our own layers over a plain background.
    style: { version: 8, sources: {}, layers: [{ id: "land", type: "background", paint: { "background-color": "#e8eef0" } }] },
    center: [Number(params.get("lng")) || 118.7784, Number(params.get("lat")) || 32.0416],
    zoom: Number(params.get("zoom")) || 13,
    attributionControl: false,
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }));
  map.on("load", () => {
    map.addSource("stores", { type: "geojson", data: { type: "FeatureCollection", features: [] } });
    map.addSource("here", { type: "geojson", data: { type: "FeatureCollection", features: [] } });
    map.addLayer({ id: "stores", type: "circle", source: "stores",
      paint: { "circle-radius": 6, "circle-color": "#14532d", "circle-stroke-color": "#fff", "circle-stroke-width": 1.5 } });
    map.addLayer({ id: "here", type: "circle", source: "here",
      paint: { "circle-radius": 7, "circle-color": "#1a73e8", "circle-stroke-color": "#fff", "circle-stroke-width": 2 } });
    document.body.dataset.mapReady = "true";
  });
  map.on("click", (event) => search(event.lngLat.lat, event.lngLat.lng));

  $("locate").addEventListener("click", () => {
    if (!navigator.geolocation) { $("status").textContent = "This browser cannot locate you."; return; }
    $("status").textContent = "Locating…";
    navigator.geolocation.getCurrentPosition(
      (pos) => {
        search(pos.coords.latitude, pos.coords.longitude, pos.coords.accuracy);
        map.flyTo({ center: [pos.coords.longitude, pos.coords.latitude], zoom: 14 });
      },
      (error) => { $("status").textContent = `Could not locate you: ${error.message}`; },
      { enableHighAccuracy: true, timeout: 10000 });
  });
  $("open-now").addEventListener("change", () => state.point && search(...state.point));
  $("sku").addEventListener("change", () => state.point && search(...state.point));

  function distance(metres) {
    return metres < 1000 ? `${Math.round(metres / 10) * 10} m` : `${(metres / 1000).toFixed(1)} km`;
  }

  function localNow(timezone) {
    const parts = new Intl.DateTimeFormat("en-GB", { timeZone: timezone, weekday: "short", hour: "2-digit",
      minute: "2-digit", hourCycle: "h23" }).formatToParts(new Date());
    const get = (type) => parts.find((p) => p.type === type).value;
    return { day: get("weekday").slice(0, 3).toLowerCase(), minute: Number(get("hour")) * 60 + Number(get("minute")) };
  }

  function hoursText(props) {
    // "closes in 30 min" / "open until 22:00" / "closed": from the weekly hours in the store's own zone.
    if (!props.hours) return "";
    const now = localNow(props.timezone || "UTC");
    const minutes = (t) => Number(t.slice(0, 2)) * 60 + Number(t.slice(3, 5));
    for (const [open, close] of props.hours[now.day] || []) {
      const start = minutes(open);
      let end = minutes(close);
      if (end <= start) end += 24 * 60;
      if (now.minute >= start && now.minute < end) {
        const left = end - now.minute;
        return left <= 60 ? `closes in ${left} min` : `open until ${close}`;
      }
    }
    return props.open_now ? "open" : "closed now";
  }

  async function search(lat, lng, accuracy) {
    state.point = [lat, lng];
    const marker = $("query-point");
    marker.dataset.lat = String(lat);
    marker.dataset.lng = String(lng);
    marker.hidden = false;
    marker.textContent = accuracy ? `You are here (±${Math.round(accuracy)} m)` : "Searching around the tapped point";
    if (map.getSource("here")) {
      map.getSource("here").setData({ type: "Feature", geometry: { type: "Point", coordinates: [lng, lat] }, properties: {} });
    }
    const query = new URLSearchParams({ lat, lng, radius_m: 2000, limit: 50 });
    if (state.category) query.set("category", state.category);
    if ($("open-now").checked) query.set("open_now", "true");
    if ($("sku").value) query.set("sku", $("sku").value);
    const response = await fetch(`/v1/stores/nearby?${query}`, { headers: auth });
    const body = await response.json();
    if (!response.ok) { $("status").textContent = body.detail; return; }
    state.stores = body.features;
    $("status").textContent = `${body.numberMatched} store(s) within 2 km${body.numberMatched > body.numberReturned
      ? `, nearest ${body.numberReturned} shown` : ""}.`;
    if (map.getSource("stores")) map.getSource("stores").setData(body);
    render();
    chips();
  }

  function chips() {
    const categories = [...new Set(state.stores.map((f) => f.properties.category))].sort();
    if (state.category && !categories.includes(state.category)) categories.push(state.category);
    $("chips").replaceChildren(...categories.map((category) => {
      const chip = document.createElement("button");
      chip.type = "button";
      chip.textContent = category.replace(/_/g, " ");
      chip.setAttribute("aria-pressed", String(state.category === category));
      chip.onclick = () => { state.category = state.category === category ? null : category; search(...state.point); };
      return chip;
    }));
  }

  function line(text, className) {
    const node = document.createElement("div");
    node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  function render() {
    $("stores").replaceChildren(...state.stores.map((feature) => {
      const p = feature.properties;
      const item = document.createElement("li");
      item.className = "store";
      item.setAttribute("data-testid", "store-item");
      item.dataset.storeId = feature.id;
      const title = document.createElement("strong");
      title.textContent = p.name;
      item.append(title, line(`${distance(p.distance_m)} · ${p.category.replace(/_/g, " ")}`
        + (p.rating ? ` · ★ ${p.rating.average} (${p.rating.count})` : "")
        + (p.quantity ? ` · ${p.quantity} in stock` : ""), "meta"));
      const hours = hoursText(p);
      if (hours) item.append(line(hours, `meta ${p.open_now ? "open" : "closed"}`));
      item.onclick = (event) => { if (!event.target.closest("a, button")) openCard(item, feature); };
      return item;
    }));
  }

  async function openCard(item, feature) {
    if (item.dataset.open) return;
    item.dataset.open = "true";
    const [lng, lat] = feature.geometry.coordinates;
    const links = document.createElement("div");
    links.className = "meta";
    if (feature.properties.phone) links.append(link(`tel:${feature.properties.phone}`, feature.properties.phone), " · ");
    links.append(link(`geo:${lat},${lng}`, "Directions"));
    item.append(links);
    if (feature.properties.address) item.append(line(feature.properties.address, "meta"));
    const offers = await (await fetch(`/v1/campaigns?store_id=${feature.id}`)).json();
    for (const offer of offers) item.append(offerBlock(offer));
    if (!offers.length) item.append(line("No offers here right now.", "meta"));
  }

  function link(href, text) {
    const a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    return a;
  }

  function offerBlock(offer) {
    const block = document.createElement("div");
    block.className = "offer";
    block.append(line(offer.title));
    const claim = document.createElement("button");
    claim.type = "button";
    claim.setAttribute("data-testid", "claim");
    claim.textContent = token ? "Claim" : "Sign in to claim";
    claim.disabled = !token;
    claim.onclick = async () => {
      claim.disabled = true;
      let response = await fetch(`/v1/campaigns/${offer.id}/claim`, { method: "POST", headers: auth });
      let coupon = await response.json();
      if (response.status === 409) {  // already yours: show the one you hold
        const mine = await (await fetch("/v1/users/me/coupons", { headers: auth })).json();
        coupon = mine.find((c) => c.campaign_id === offer.id) || coupon;
        response = { ok: Boolean(coupon.id) };
      }
      if (!response.ok) { claim.textContent = coupon.detail || "Could not claim"; return; }
      claim.textContent = `Your code: ${coupon.code}`;
      await showQr(block, coupon.id);
    };
    block.append(claim);
    return block;
  }

  async function showQr(block, couponId) {
    // The QR carries a token that expires in a minute: fetch a fresh one while it is on screen.
    const image = block.querySelector("img") || document.createElement("img");
    image.alt = "coupon QR code";
    image.setAttribute("data-testid", "coupon-qr");
    const refresh = async () => {
      const response = await fetch(`/v1/coupons/${couponId}/qr.svg`, { headers: auth });
      if (!response.ok) return;
      const previous = image.src;
      image.src = URL.createObjectURL(await response.blob());
      if (previous) URL.revokeObjectURL(previous);
    };
    await refresh();
    block.append(image);
    setInterval(refresh, 45000);
  }

  function promotions() {
    if (!token) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/v1/ws/user?token=${encodeURIComponent(token)}`);
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type !== "promotion") return;
      const toast = line(`${message.title} at ${message.store_name} (${distance(message.distance_m)})`, "toast");
      toast.setAttribute("data-testid", "promotion");
      $("promotions").append(toast);
      setTimeout(() => toast.remove(), 15000);
    };
    socket.onclose = () => setTimeout(promotions, 3000);
  }
  promotions();
})();
