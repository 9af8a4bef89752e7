"use strict";
// The staff console: live arrivals for one store, acknowledgements shared by every console of the
// store, replay after a reconnect without duplicates, coupon redemption and the pickup queue.
// It never shows where a customer is: the server never sends it.
(() => {
  const $ = (id) => document.getElementById(id);
  const TOKEN_KEY = "lbs-staff-token";
  const { token } = lbsSession(TOKEN_KEY);
  const claims = readClaims(token);
  if (!claims || claims.role !== "staff" || claims.store_id == null) {
    $("signin").hidden = false;
    $("signin-form").addEventListener("submit", (event) => {
      event.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, $("token-input").value.trim());
      location.reload();
    });
    setState("offline");
    return;
  }
  const storeId = claims.store_id;
  $("store-label").textContent = `#${storeId}`;
  $("app").hidden = false;

  const seen = new Set();
  let lastId = 0;
  let retries = 0;
  let audio = null;

  function readClaims(jwt) {
    try {
      const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(atob(part + "=".repeat((4 - (part.length % 4)) % 4)));
    } catch (error) {
      return null;
    }
  }

  function setState(state) {
    const light = $("connection");
    light.dataset.state = state;
    light.textContent = state;
  }

  function notice(text) {
    $("notice").textContent = text;
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const url = `${scheme}://${location.host}/v1/ws/stores/${storeId}?token=${encodeURIComponent(token)}&last_id=${lastId}`;
    const socket = new WebSocket(url);
    setState("connecting");
    socket.onopen = () => { setState("live"); retries = 0; };
    socket.onmessage = (event) => handle(JSON.parse(event.data), socket);
    socket.onclose = (event) => {
      setState("offline");
      if (event.code === 4401 || event.code === 4403) {
        notice(`Signed out: ${event.reason || "this token cannot open this console"}.`);
        return;
      }
      setTimeout(connect, Math.min(10000, 300 * 2 ** retries++)); // back off, then resume from lastId
    };
    $("arrivals").onclick = (event) => {
      const button = event.target.closest("[data-testid=ack]");
      if (button && socket.readyState === WebSocket.OPEN) {
        socket.send(JSON.stringify({ type: "ack", id: Number(button.dataset.alertId) }));
        button.disabled = true;
      }
    };
  }

  function handle(message) {
    if (message.type === "reset") {
      $("arrivals").replaceChildren();
      seen.clear();
      notice("Older alerts could not be replayed; new ones appear below.");
      return;
    }
    if (typeof message.id === "number") {
      if (seen.has(message.id)) return; // replay and live overlap: show each message once
      seen.add(message.id);
      lastId = Math.max(lastId, message.id);
    }
    if (message.type === "arrival") addArrival(message);
    else if (message.type === "acked") markAcked(message.alert_id, message.by);
    else if (message.type === "order") addOrder(message);
  }

  function text(tag, content, className) {
    const node = document.createElement(tag);
    node.textContent = content;
    if (className) node.className = className;
    return node;
  }

  function distance(metres) {
    return metres < 1000 ? `${Math.round(metres / 10) * 10} m` : `${(metres / 1000).toFixed(1)} km`;
  }

  function addArrival(alert) {
    const card = document.createElement("li");
    card.className = "card flash";
    card.dataset.testid = "arrival-card";
    card.setAttribute("data-testid", "arrival-card");
    card.dataset.alertId = String(alert.id);
    const context = alert.context || {};
    card.append(text("strong", alert.user_ref), text("span", ` · ${context.tier || "guest"}`, "tier"));
    const eta = alert.eta_s == null ? "" : ` · about ${Math.max(1, Math.round(alert.eta_s / 60))} min away`;
    card.append(text("div", `${distance(alert.distance_m)} away${eta}`, "meta"));
    for (const coupon of context.coupons || []) card.append(text("div", `Coupon: ${coupon.title}`, "meta"));
    for (const order of context.orders || []) card.append(text("div", `Order #${order.order_id}: ${order.status}`, "meta"));
    const ack = text("button", "Acknowledge");
    ack.type = "button";
    ack.setAttribute("data-testid", "ack");
    ack.dataset.alertId = String(alert.id);
    card.append(ack);
    $("arrivals").prepend(card);
    beep();
  }

  function markAcked(alertId, by) {
    const card = document.querySelector(`[data-testid=arrival-card][data-alert-id="${alertId}"]`);
    if (!card) return;
    card.classList.add("acked");
    card.dataset.ackedBy = by;
    const button = card.querySelector("[data-testid=ack]");
    if (button) { button.disabled = true; button.textContent = `Acknowledged by ${by}`; }
  }

  function addOrder(order) {
    const item = document.createElement("li");
    item.className = "card";
    item.setAttribute("data-testid", "order");
    item.dataset.orderId = String(order.order_id);
    const count = (order.items || []).reduce((sum, line) => sum + line.quantity, 0);
    item.append(text("strong", `Order #${order.order_id}`), text("div", `${count} item(s) · ${order.status}`, "meta"));
    const ready = text("button", "Mark ready");
    ready.type = "button";
    ready.onclick = async () => {
      const response = await api(`/v1/orders/${order.order_id}/ready`, {});
      ready.textContent = response.ok ? "Ready for pickup" : "Could not mark ready";
      ready.disabled = response.ok;
    };
    item.append(ready);
    $("orders").prepend(item);
    beep();
  }

  function api(path, body, headers = {}) {
    return fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}`, ...headers },
      body: JSON.stringify(body),
    });
  }

  $("redeem-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const code = $("redeem-code").value.trim();
    const isPickup = /^P[A-Z0-9]{9}$/i.test(code);  // pickup codes start with P, coupon codes with C
    const path = isPickup ? `/v1/stores/${storeId}/pickups` : `/v1/stores/${storeId}/redemptions`;
    const response = await api(path, { code }, { "Idempotency-Key": crypto.randomUUID() });
    const body = await response.json();
    $("redeem-result").textContent = response.ok
      ? (isPickup ? `Order #${body.id} handed over.` : `Redeemed: ${body.title}.`)
      : `Refused: ${body.detail}`;
    $("redeem-result").dataset.ok = String(response.ok);
    if (response.ok) $("redeem-code").value = "";
  });

  $("enable-sound").addEventListener("click", () => {
    audio = audio || new AudioContext(); // browsers allow sound only after a click
    $("enable-sound").textContent = "Sound on";
    $("enable-sound").disabled = true;
  });

  function beep() {
    if (!audio) return;
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = 880;
    gain.gain.setValueAtTime(0.2, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.4);
    tone.connect(gain).connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.4);
  }

  connect();
})();
