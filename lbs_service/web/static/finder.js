"use strict";
// The store finder: tap the map or locate yourself, see the nearest stores in a list and on the map in
// step, filter, open a store's card with its hours, offers (what each is worth) and games, claim an
// offer or buy it with points and show its QR, play a scratch card or a wheel (games.js).
// Signed-in users can switch "Offers near me" on: that records their consent to location marketing
// and sends their position while the page is visible (throttled), and the offers of stores they
// approach appear as cards to claim or dismiss; staff answers and order news appear as notices.
(() => {
  const $ = (id) => document.getElementById(id);
  const { token, params } = lbs.session("lbs-user-token");
  const state = { point: null, category: null, stores: [], matched: 0, next: null, q: "", sku: null, asked: 0 };
  const FIX_EVERY_M = 25; // a new fix when moved this far...
  const FIX_EVERY_S = 20; // ...or when this much time has passed
  const timers = new Set(); // every interval this page starts, so none outlives what it serves

  const map = lbs.map("map", { center: [Number(params.get("lng")) || 118.7784, Number(params.get("lat")) || 32.0416],
    zoom: Number(params.get("zoom")) || 13 });
  if (!map) {
    $("status").textContent = "The map library is not installed (run the set-up: npm ci).";
    return;
  }
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
  const again = () => state.point && search(...state.point);
  $("open-now").addEventListener("change", again);
  $("radius").addEventListener("change", again);
  $("sort").addEventListener("change", () => (state.stores.length ? showPage() : render()));
  $("more").addEventListener("click", more);

  // The search box: what is typed narrows the stores around the point (name, kind of store, address);
  // suggestions come from the stores that match as you type.
  $("search-form").addEventListener("submit", (event) => { event.preventDefault(); state.q = $("q").value.trim(); again(); });
  $("q").addEventListener("change", () => { state.q = $("q").value.trim(); again(); });
  $("q").addEventListener("input", debounced(async () => {
    const text = $("q").value.trim();
    if (!text) { $("q-suggestions").replaceChildren(); if (state.q) { state.q = ""; again(); } return; }
    if (!state.point) return;
    const query = new URLSearchParams({ lat: state.point[0], lng: state.point[1], radius_m: radius(), limit: 8, q: text });
    const answer = await lbs.api(`/v1/stores/nearby?${query}`);
    if (!answer.ok || $("q").value.trim() !== text) return;
    const names = [...new Set(answer.body.features.map((f) => f.properties.name))];
    $("q-suggestions").replaceChildren(...names.map((name) => lbs.el("option", null, null, { value: name })));
  }));

  // "In stock": a product by its name, from the catalogue (GET /v1/skus?q=), never an id to know.
  const skuByLabel = new Map();
  $("sku-name").addEventListener("input", debounced(async () => {
    const text = $("sku-name").value.trim();
    if (!text) { $("sku-suggestions").replaceChildren(); if (state.sku) { state.sku = null; again(); } return; }
    if (skuByLabel.has(text)) return;
    const answer = await lbs.api(`/v1/skus?${new URLSearchParams({ q: text, limit: 8 })}`);
    if (!answer.ok || $("sku-name").value.trim() !== text) return;
    const merchants = await merchantNames();
    // A product is one merchant's: its label names the merchant, so two chains' "Water (W1)" stay apart.
    const label = (sku) => `${sku.name} (${sku.code}) · ${merchants.get(sku.merchant_id) || `merchant ${sku.merchant_id}`}`;
    for (const sku of answer.body) skuByLabel.set(label(sku), sku.id);
    $("sku-suggestions").replaceChildren(...answer.body.map((sku) => lbs.el("option", null, null, { value: label(sku) })));
  }));
  $("sku-name").addEventListener("change", async () => {
    const text = $("sku-name").value.trim();
    const chosen = skuByLabel.get(text) || null;
    state.sku = chosen; // an unknown name filters nothing: the list must not go on showing the last product
    await again();
    if (text && !chosen) $("status").textContent = `No product called "${text}": pick one from the list.`;
  });

  let merchantsLoaded = null;
  function merchantNames() {
    merchantsLoaded = merchantsLoaded || lbs.api("/v1/merchants").then((answer) =>
      new Map(answer.ok ? answer.body.map((m) => [m.id, m.name]) : []));
    return merchantsLoaded;
  }

  function debounced(work, ms = 250) {
    let timer = null;
    return () => { clearTimeout(timer); timer = setTimeout(work, ms); };
  }

  function radius() { return Number($("radius").value) || 2000; }

  function localNow(timezone) {
    const parts = new Intl.DateTimeFormat("en-GB", { timeZone: timezone, weekday: "short", hour: "2-digit",
      minute: "2-digit", hourCycle: "h23" }).formatToParts(new Date());
    const get = (type) => parts.find((p) => p.type === type).value;
    return { day: get("weekday").slice(0, 3).toLowerCase(), minute: Number(get("hour")) * 60 + Number(get("minute")) };
  }

  function hoursText(props) {
    // "closes in 30 min" / "open until 22:00" / "closed now": from the weekly hours in the store's own zone.
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
    marker.textContent = accuracy ? `You are here (±${Math.round(accuracy)} m)`
      : `Searching around the point you tapped (${lat.toFixed(4)}, ${lng.toFixed(4)})`;
    if (map.getSource("here")) {
      map.getSource("here").setData({ type: "Feature", geometry: { type: "Point", coordinates: [lng, lat] }, properties: {} });
    }
    const query = new URLSearchParams({ lat, lng, radius_m: radius(), limit: 50 });
    if (state.category) query.set("category", state.category);
    if ($("open-now").checked) query.set("open_now", "true");
    if (state.sku) query.set("sku", state.sku);
    if (state.q) query.set("q", state.q);
    const asked = ++state.asked; // a later question makes this answer stale, whenever it arrives
    const answer = await lbs.api(`/v1/stores/nearby?${query}`, { token });
    if (asked !== state.asked) return;
    if (!answer.ok) {
      state.stores = [];
      state.next = null;
      $("more").hidden = true;
      render();
      showGamesNearby();
      $("status").textContent = answer.error;
      return;
    }
    state.stores = answer.body.features;
    state.matched = answer.body.numberMatched;
    state.next = nextLink(answer.body);
    showPage();
    chips();
  }

  // Every store within the radius can be listed: the answer's `next` link continues where the page ended.
  async function more() {
    if (!state.next) return;
    const asked = state.asked; // the page continues this question; a new one drops it
    $("more").disabled = true;
    const answer = await lbs.api(state.next, { token });
    $("more").disabled = false;
    if (asked !== state.asked) return;
    if (!answer.ok) { $("status").textContent = answer.error; return; }
    state.stores = state.stores.concat(answer.body.features);
    state.next = nextLink(answer.body);
    showPage();
  }

  function nextLink(body) {
    const link = (body.links || []).find((l) => l.rel === "next");
    return link ? link.href : null;
  }

  function showPage() {
    const within = lbs.distance(radius());
    const what = [state.q ? `matching "${state.q}"` : "", $("sku-name").value.trim() && state.sku
      ? `with ${$("sku-name").value.trim()} in stock` : ""].filter(Boolean).join(" ");
    const byRating = $("sort").value === "rating";
    $("status").textContent = `${state.matched} store(s) ${what ? `${what} ` : ""}within ${within}`
      + (state.matched > state.stores.length ? `, the nearest ${state.stores.length} listed` : "")
      + (byRating ? ", best rated first." : ".");
    $("more").hidden = !state.next;
    if (map.getSource("stores")) map.getSource("stores").setData({ type: "FeatureCollection", features: state.stores });
    render();
    showGamesNearby();
  }

  // The games running at any store listed: shown above the list, so a game nearby is seen without
  // opening a store (each store's card shows its own too). The list of games is fetched again after a
  // minute (a game may start or end meanwhile); a block being played is kept, never rebuilt.
  const GAMES_TTL_MS = 60000;
  let games = { at: 0, list: [] };
  async function runningGames() {
    if (Date.now() - games.at > GAMES_TTL_MS) {
      const answer = await lbs.api("/v1/games");
      if (answer.ok) games = { at: Date.now(), list: answer.body }; // a failure is asked again next time
    }
    return games.list.filter((g) => Date.parse(g.ends_at) > Date.now());
  }

  async function showGamesNearby() {
    const listed = new Set(state.stores.map((f) => Number(f.id)));
    const merchants = new Set(state.stores.map((f) => f.properties.merchant_id));
    const near = listed.size ? (await runningGames()).filter((g) => (g.store_ids
      ? g.store_ids.some((id) => listed.has(id)) : g.merchant_id === null || merchants.has(g.merchant_id))) : [];
    const box = $("games-nearby");
    const kept = new Map([...box.children].map((child) => [child.dataset.gameId, child]));
    box.replaceChildren(...near.map((game) => kept.get(String(game.id)) || lbsGames.block(game, token, showQr)));
    box.hidden = !near.length;
  }

  // Best rated first (then the most reviews, then the nearest) among the stores listed; nearest first otherwise.
  function sorted(stores) {
    if ($("sort").value !== "rating") return stores;
    const average = (f) => (f.properties.rating ? f.properties.rating.average : -1);
    const count = (f) => (f.properties.rating ? f.properties.rating.count : 0);
    return [...stores].sort((a, b) => average(b) - average(a) || count(b) - count(a)
      || (a.properties.distance_m || 0) - (b.properties.distance_m || 0));
  }

  // Opened from a notification (sw.js puts ?offer=STORE in the address): that store, with its offers.
  async function showOffered(storeId) {
    const answer = await lbs.api(`/v1/stores/${encodeURIComponent(storeId)}`);
    if (!answer.ok) { $("status").textContent = `The store of that offer could not be found: ${answer.error}`; return; }
    state.stores = [answer.body];
    render();
    showGamesNearby();
    $("status").textContent = `The offer you were sent, at ${answer.body.properties.name}:`;
    openCard($("stores").firstElementChild, answer.body);
  }
  if (/^[0-9]{1,19}$/.test(params.get("offer") || "")) showOffered(params.get("offer"));

  function chips() {
    const categories = [...new Set(state.stores.map((f) => f.properties.category))].sort();
    if (state.category && !categories.includes(state.category)) categories.push(state.category);
    $("chips").replaceChildren(...categories.map((category) => {
      const chip = lbs.el("button", category.replace(/_/g, " "), null, { type: "button",
        "aria-pressed": String(state.category === category) });
      chip.onclick = () => { state.category = state.category === category ? null : category; search(...state.point); };
      return chip;
    }));
  }

  function render() {
    $("stores").replaceChildren(...sorted(state.stores).map((feature) => {
      const p = feature.properties;
      const item = lbs.el("li", null, "store", { "data-testid": "store-item" });
      item.dataset.storeId = feature.id;
      const away = typeof p.distance_m === "number" ? `${lbs.distance(p.distance_m)} · ` : "";
      item.append(lbs.el("strong", p.name), lbs.el("div", `${away}${p.category.replace(/_/g, " ")}`
        + (p.rating ? ` · ★ ${p.rating.average} (${p.rating.count})` : "")
        + (p.quantity ? ` · ${p.quantity} in stock` : ""), "meta"));
      const hours = hoursText(p);
      if (hours) item.append(lbs.el("div", hours, `meta ${p.open_now ? "open" : "closed"}`));
      if (p.utilities && p.utilities.length) {
        item.append(lbs.el("div", `Pay your bills here: ${p.utilities.join(", ")}`, "meta", { "data-testid": "utilities" }));
      }
      item.onclick = (event) => { if (!event.target.closest("a, button")) openCard(item, feature); };
      return item;
    }));
  }

  async function openCard(item, feature) {
    if (item.dataset.open) return;
    item.dataset.open = "true";
    const [lng, lat] = feature.geometry.coordinates;
    const links = lbs.el("div", null, "meta");
    if (feature.properties.phone) links.append(link(`tel:${feature.properties.phone}`, feature.properties.phone), " · ");
    links.append(link(`geo:${lat},${lng}`, "Directions"));
    item.append(links);
    if (feature.properties.address) item.append(lbs.el("div", feature.properties.address, "meta"));
    const [answer, played] = await Promise.all([lbs.api(`/v1/campaigns?store_id=${feature.id}`),
      lbs.api(`/v1/games?store_id=${feature.id}`)]);
    if (!answer.ok) { item.append(lbs.el("div", `Offers could not be loaded: ${answer.error}`, "meta")); return; }
    for (const offer of answer.body) item.append(offerBlock(offer.id, offer.title, offer));
    if (!answer.body.length) item.append(lbs.el("div", "No offers here right now.", "meta"));
    for (const game of played.ok ? played.body : []) item.append(lbsGames.block(game, token, showQr));
  }

  const money = (cents) => `¥${(cents / 100).toFixed(2)}`;

  // What an offer is worth: "10% off from ¥20.00", "¥18.00 off".
  function offerText(offer) {
    if (!offer) return "";
    const off = offer.kind === "percent" ? `${offer.value}% off` : `${money(offer.value)} off`;
    return offer.min_spend_cents ? `${off} when you spend ${money(offer.min_spend_cents)}` : off;
  }

  async function showPoints() {
    if (!token) return;
    const answer = await lbs.api("/v1/users/me/points", { token });
    if (!answer.ok) return;
    $("points").hidden = false;
    $("points").textContent = `${answer.body.balance} points`;
  }
  showPoints();

  function link(href, text) {
    const a = lbs.el("a", text);
    a.href = href;
    return a;
  }

  function offerBlock(campaignId, title, campaign = {}) {
    const block = lbs.el("div", null, "offer");
    block.append(lbs.el("div", title));
    if (campaign.offer) block.append(lbs.el("div", offerText(campaign.offer), "meta", { "data-testid": "offer-value" }));
    const price = campaign.points_price;
    const claim = lbs.el("button", !token ? "Sign in to claim" : price ? `Exchange ${price} points` : "Claim", null,
      { type: "button", "data-testid": "claim" });
    claim.disabled = !token;
    claim.onclick = async () => {
      claim.disabled = true;
      let answer = price
        ? await lbs.api("/v1/points/exchanges", { method: "POST", token, body: { campaign_id: campaignId } })
        : await lbs.api(`/v1/campaigns/${campaignId}/claim`, { method: "POST", token });
      if (price && answer.ok) { answer = { ok: true, body: answer.body.coupon }; showPoints(); }
      if (answer.status === 409) { // already yours: show the one you hold
        const mine = await lbs.api("/v1/users/me/coupons", { token });
        const held = mine.ok ? mine.body.find((c) => c.campaign_id === campaignId) : null;
        answer = held ? { ok: true, body: held } : answer;
      }
      if (!answer.ok) { claim.textContent = answer.error || "Could not claim"; return; }
      claim.textContent = `Your code: ${answer.body.code}`;
      await showQr(block, answer.body.id);
    };
    block.append(claim);
    return block;
  }

  async function showQr(block, couponId) {
    // The QR carries a token that expires in a minute: fetch a fresh one while it is on screen.
    const image = block.querySelector("img") || lbs.el("img", null, null, { alt: "coupon QR code", "data-testid": "coupon-qr" });
    let shown = false;
    let timer = null;
    const refresh = async () => {
      if (shown && !image.isConnected) { clearInterval(timer); timers.delete(timer); return; } // the card is gone
      const answer = await lbs.blob(`/v1/coupons/${couponId}/qr.svg`, token);
      if (!answer.ok) return; // offline for a moment, or refused: the next refresh tries again while it is shown
      const previous = image.src;
      image.src = URL.createObjectURL(answer.blob);
      if (previous) URL.revokeObjectURL(previous);
    };
    await refresh();
    block.append(image);
    shown = true;
    timer = setInterval(refresh, 45000);
    timers.add(timer);
  }

  // ---- live: offers near me, staff answers, order news ---------------------------------------
  if (!token) return;
  // What this person missed while the page was closed is replayed when it opens again.
  const subject = (lbs.claims(token) || {}).sub;
  const live = lbs.liveSocket({ path: "/v1/ws/user", token, lastIdKey: `lbs-user-last-id:${subject}`,
    onState: (connection) => { document.body.dataset.live = connection; }, onMessage: onLive });

  function onLive(message) {
    if (message.type === "promotion") showPromotion(message);
    else if (message.type === "staff_reply") toast(`${message.store_name || "The store"}: ${message.text}`, "staff-reply");
    else if (message.type === "order" && message.status === "ready") toast(`Order #${message.order_id} is ready for pickup.`, "order-news");
    else if (message.type === "order" && message.status === "refunded") toast(`Order #${message.order_id} was refunded.`, "order-news");
    else if (message.type === "reset") toast("Some offers could not be replayed while you were away.", "notice");
  }

  function closable(card) {
    const close = lbs.el("button", "×", "dismiss", { type: "button", "aria-label": "dismiss", "data-testid": "dismiss" });
    close.onclick = () => card.remove();
    card.prepend(close);
    $("promotions").prepend(card);
    while ($("promotions").children.length > 4) $("promotions").lastElementChild.remove(); // never a wall of cards
  }

  function showPromotion(message) {
    const card = lbs.el("div", null, "promotion", { "data-testid": "promotion" });
    card.dataset.campaignId = String(message.campaign_id);
    card.append(lbs.el("strong", message.title), lbs.el("div", `at ${message.store_name} · ${lbs.distance(message.distance_m)}`, "meta"),
      offerBlock(message.campaign_id, ""));
    closable(card);
  }

  function toast(text, testid) {
    const card = lbs.el("div", text, "notice", { "data-testid": testid });
    closable(card);
  }

  // The switch: consent to location marketing, and the fixes that go with it.
  const offers = $("offers-switch");
  let watch = null;
  let lastSent = null;

  lbs.api("/v1/users/me/consent", { token }).then((answer) => {
    offers.disabled = !answer.ok;
    offers.checked = answer.ok && answer.body.location_marketing;
    if (offers.checked) startWatching();
  });

  offers.addEventListener("change", async () => {
    offers.disabled = true;
    const answer = await lbs.api("/v1/users/me/consent", { method: "PUT", token,
      body: { location_marketing: offers.checked } });
    offers.disabled = false;
    if (!answer.ok) { offers.checked = !offers.checked; toast(`Could not change it: ${answer.error}`, "notice"); return; }
    if (offers.checked) startWatching(); else stopWatching();
  });

  function startWatching() {
    if (watch !== null || document.hidden || !navigator.geolocation) return;
    watch = navigator.geolocation.watchPosition(sendFix, () => {}, { enableHighAccuracy: true, maximumAge: 5000 });
  }

  function stopWatching() {
    if (watch !== null) navigator.geolocation.clearWatch(watch);
    watch = null;
  }

  function movedMetres(a, b) {
    const rad = Math.PI / 180;
    const x = (b.lng - a.lng) * rad * Math.cos(((a.lat + b.lat) / 2) * rad);
    return Math.hypot(x, (b.lat - a.lat) * rad) * 6371008.8;
  }

  function sendFix(position) {
    // Dated when it was taken, and never later than this page's clock: a fix from the future is refused.
    const fix = { lat: position.coords.latitude, lng: position.coords.longitude, at: Math.min(position.timestamp, Date.now()) };
    if (lastSent && movedMetres(lastSent, fix) < FIX_EVERY_M && fix.at - lastSent.at < FIX_EVERY_S * 1000) return;
    const sent = live.send({ type: "location", lat: fix.lat, lng: fix.lng,
      accuracy_m: Math.min(100000, position.coords.accuracy || 0), ts: new Date(fix.at).toISOString() });
    if (sent) lastSent = fix;
  }

  // A hidden page sends nothing (and its phone saves the battery); it resumes when shown again.
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) stopWatching();
    else if (offers.checked) startWatching();
  });
})();
