"use strict";
// The staff console: one card per customer with intent on their way to this store (what they want,
// their ETA), updated in place when they arrive and when they leave; the store's anonymous demand
// gauge; acknowledgements shared by every console, and cards raised again when nobody answered; an
// answer to the customer; the pickup queue kept in step with every order's status; redemption.
// It never shows where a customer is: the server never sends it.
(() => {
  const $ = (id) => document.getElementById(id);
  const TOKEN_KEY = "lbs-staff-token";
  const { token } = lbs.session(TOKEN_KEY);
  const claims = lbs.claims(token);
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
  let audio = null;

  function setState(state, reason) {
    const light = $("connection");
    light.dataset.state = state;
    light.textContent = state;
    if (state === "signed-out") notice(`Signed out: ${reason || "this token cannot open this console"}.`);
  }

  function notice(text) {
    $("notice").textContent = text;
  }

  const socket = lbs.liveSocket({
    // A console that opens shows what the store's stream still holds (the day's cards), then lives on.
    path: `/v1/ws/stores/${storeId}`, token, startAfter: 0,
    onState: setState, onMessage: handle,
  });

  function handle(message) {
    if (message.type === "reset") {
      if (seen.size) notice("Older cards could not be replayed; new ones appear below.");
      $("arrivals").replaceChildren();
      seen.clear();
      // the queue is read again as a whole below: what changed during the gap shows as it is now
      loadQueue();
      return;
    }
    if (typeof message.id === "number") {
      if (seen.has(message.id)) return; // replay and live overlap: each message once
      seen.add(message.id);
    }
    if (message.type === "arrival") addCard(message);
    else if (message.type === "visit") updateCard(message);
    else if (message.type === "acked") markAcked(message.alert_id, message.by);
    else if (message.type === "escalate") escalate(message.alert_id);
    else if (message.type === "demand") showDemand(message);
    else if (message.type === "order") onOrderMessage(message);
    else if (message.type === "error") notice(message.detail);
  }

  function cardOf(visitId) {
    return document.querySelector(`[data-testid=arrival-card][data-visit-id="${visitId}"]`);
  }

  function wants(context) {
    const lines = [];
    for (const order of context.orders || []) {
      const items = (order.items || []).map((i) => `${i.quantity} × ${i.name}`).join(", ");
      lines.push(`Order #${order.order_id} (${order.status})${items ? `: ${items}` : ""}`);
    }
    for (const coupon of context.coupons || []) lines.push(`Coupon: ${coupon.title}`);
    if (context.offer) lines.push(`Sent our offer: ${context.offer.title}`);
    return lines;
  }

  function addCard(alert) {
    const card = lbs.el("li", null, "card flash", { "data-testid": "arrival-card" });
    card.dataset.alertId = String(alert.id);
    card.dataset.visitId = String(alert.visit_id);
    card.dataset.stage = alert.stage;
    const context = alert.context || {};
    const title = lbs.el("div");
    title.append(lbs.el("strong", alert.user_ref), lbs.el("span", ` · ${context.tier || "guest"}`, "tier"),
      lbs.el("span", alert.stage, "stage", { "data-testid": "stage" }));
    card.append(title, lbs.el("div", eta(alert), "meta when"));
    for (const line of wants(context)) card.append(lbs.el("div", line, "meta want"));
    const ack = lbs.el("button", "Acknowledge", null, { type: "button", "data-testid": "ack" });
    ack.onclick = () => { if (socket.send({ type: "ack", id: alert.id })) ack.disabled = true; };
    const reply = lbs.el("form", null, null, { "data-testid": "reply" });
    const text = lbs.el("input", null, null, { maxlength: "500", placeholder: "Answer: we're ready…" });
    reply.append(text, lbs.el("button", "Send", null, { type: "submit" }));
    reply.onsubmit = (event) => {
      event.preventDefault();
      const answer = text.value.trim();
      if (answer && socket.send({ type: "reply", visit_id: alert.visit_id, text: answer })) {
        text.value = "";
        text.placeholder = `Sent: ${answer}`;
      }
    };
    card.append(ack, reply);
    $("arrivals").prepend(card);
    lbs.beep(audio);
  }

  function eta(message) {
    if (message.stage === "arrived") return "In the store now";
    if (message.stage === "left") return message.dwell_s == null ? "Passed by" : `Left after ${lbs.minutes(message.dwell_s)}`;
    const away = message.distance_m == null ? "" : `${lbs.distance(message.distance_m)} away`;
    return message.eta_s == null ? away : `${away} · about ${lbs.minutes(message.eta_s)} out`;
  }

  function updateCard(update) {
    const card = cardOf(update.visit_id);
    if (!card) return;
    card.dataset.stage = update.stage;
    card.querySelector("[data-testid=stage]").textContent = update.stage;
    card.querySelector(".when").textContent = eta(update);
    card.classList.toggle("left", update.stage === "left");
    if (update.stage === "arrived") lbs.beep(audio, 660);
  }

  function markAcked(alertId, by) {
    const card = document.querySelector(`[data-testid=arrival-card][data-alert-id="${alertId}"]`);
    if (!card) return;
    card.classList.add("acked");
    card.classList.remove("escalated");
    card.dataset.ackedBy = by;
    const button = card.querySelector("[data-testid=ack]");
    if (button) { button.disabled = true; button.textContent = `Acknowledged by ${by}`; }
  }

  function escalate(alertId) {
    const card = document.querySelector(`[data-testid=arrival-card][data-alert-id="${alertId}"]`);
    if (!card || card.classList.contains("acked")) return;
    card.classList.remove("flash");
    void card.offsetWidth; // restart the animation
    card.classList.add("flash", "escalated");
    lbs.beep(audio, 990);
  }

  function showDemand(gauge) {
    const soon = gauge.approaching || {};
    $("demand").textContent = gauge.nearby
      ? `${gauge.nearby} near · on their way: ${soon["5"] || 0} ≤5 min, ${soon["10"] || 0} ≤10, ${soon["15"] || 0} ≤15`
      : "no one near";
  }

  // ---- the pickup queue: one item per order, in step with its status ------------------------
  const DONE = new Set(["picked_up", "cancelled", "refunded"]);

  function orderItem(order) {
    let item = document.querySelector(`[data-testid=order][data-order-id="${order.order_id}"]`);
    if (!item) {
      item = lbs.el("li", null, "card order", { "data-testid": "order" });
      item.dataset.orderId = String(order.order_id);
      $("orders").prepend(item);
    }
    return item;
  }

  let heardWhileLoading = null; // order messages that arrive while the queue is being read

  function onOrderMessage(order) {
    if (heardWhileLoading) heardWhileLoading.push(order);
    upsertOrder(order);
  }

  function upsertOrder(order) {
    if (DONE.has(order.status)) {
      const item = document.querySelector(`[data-testid=order][data-order-id="${order.order_id}"]`);
      if (item) item.remove();
      return;
    }
    const item = orderItem(order);
    item.dataset.status = order.status;
    if (order.items) { // a status change comes without the items: the ones shown stay
      item.dataset.items = order.items.map((i) => `${i.quantity} × ${i.name || `SKU ${i.sku_id}`}`).join(", ");
    }
    const label = order.status === "ready" ? "ready · waiting for the customer" : order.status;
    const parts = [lbs.el("strong", `Order #${order.order_id}`), lbs.el("div", label, "meta", { "data-testid": "order-status" })];
    if (item.dataset.items) parts.push(lbs.el("div", item.dataset.items, "meta"));
    if (order.status === "paid") {
      const ready = lbs.el("button", "Mark ready", null, { type: "button", "data-testid": "mark-ready" });
      ready.onclick = async () => {
        ready.disabled = true;
        const answer = await lbs.api(`/v1/orders/${order.order_id}/ready`, { method: "POST", token });
        if (!answer.ok) { ready.textContent = `Could not mark ready: ${answer.error}`; ready.disabled = false; }
        // success shows up as the order's `ready` message, on every console
      };
      parts.push(ready);
    }
    item.replaceChildren(...parts);
    if (order.status === "paid" && order.type) lbs.beep(audio);
  }

  // The queue as the server has it now replaces what is shown; messages heard meanwhile are newer
  // than (or as new as) the snapshot, so they are applied again on top of it.
  async function loadQueue() {
    heardWhileLoading = [];
    const answer = await lbs.api(`/v1/stores/${storeId}/orders`, { token });
    const heard = heardWhileLoading;
    heardWhileLoading = null;
    if (!answer.ok) { notice(`The pickup queue could not be loaded: ${answer.error}`); return; }
    $("orders").replaceChildren();
    for (const order of answer.body) upsertOrder({ ...order, order_id: order.id });
    for (const order of heard) upsertOrder(order);
  }

  // ---- redemption and pickup at the till ----------------------------------------------------
  $("redeem-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const code = $("redeem-code").value.trim();
    const isPickup = /^P[A-Z0-9]{9}$/i.test(code); // pickup codes start with P, coupon codes with C
    const path = isPickup ? `/v1/stores/${storeId}/pickups` : `/v1/stores/${storeId}/redemptions`;
    const answer = await lbs.api(path, { method: "POST", token, body: { code },
      headers: { "Idempotency-Key": crypto.randomUUID() } });
    $("redeem-result").textContent = answer.ok
      ? (isPickup ? `Order #${answer.body.id} handed over.` : `Redeemed: ${answer.body.title}.`)
      : `Refused: ${answer.error}`;
    $("redeem-result").dataset.ok = String(answer.ok);
    if (answer.ok) $("redeem-code").value = "";
  });

  $("enable-sound").addEventListener("click", () => {
    audio = audio || new AudioContext(); // browsers allow sound only after a click
    $("enable-sound").textContent = "Sound on";
    $("enable-sound").disabled = true;
  });

  loadQueue();
})();
