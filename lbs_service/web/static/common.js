"use strict";
// What every page shares: sign-in from the address bar, calls to the API that handle a network
// failure and an error answer before reading a body, websockets that reconnect by the protocol the
// server publishes (/protocol.js: close codes, which ones are final, the back-off), a few DOM and
// formatting helpers, and the map set-up. Loaded after /protocol.js and before a page's own script.
window.lbs = (() => {
  const protocol = window.lbsProtocol;

  // A `?token=` in the address is kept for this tab only and removed from the address bar at once,
  // so it is not bookmarked, shared or sent on as a referrer.
  function session(key) {
    const params = new URLSearchParams(location.search);
    if (params.get("token")) {
      sessionStorage.setItem(key, params.get("token"));
      params.delete("token");
      const rest = params.toString();
      history.replaceState(null, "", location.pathname + (rest ? `?${rest}` : ""));
    }
    return { token: sessionStorage.getItem(key), params };
  }

  // An API call: {ok, status, body, error}. Never throws; a network failure is status 0, a call
  // cancelled through `signal` comes back with `aborted`.
  async function api(path, { method = "GET", body, token, headers = {}, signal } = {}) {
    const init = { method, headers: { ...headers }, signal };
    if (token) init.headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (error) {
      if (error.name === "AbortError") return { ok: false, status: 0, body: null, aborted: true, error: "cancelled" };
      return { ok: false, status: 0, body: null, error: "The network is unavailable; try again." };
    }
    const type = response.headers.get("content-type") || "";
    let parsed = null;
    if (type.includes("json")) {
      try { parsed = await response.json(); } catch (error) {
        if (error.name === "AbortError") return { ok: false, status: 0, body: null, aborted: true, error: "cancelled" };
        // A success whose body cannot be read (cut off, not JSON) is a failure, never an empty success.
        if (response.ok) return { ok: false, status: response.status, body: null, error: "The answer was incomplete; try again." };
      }
    }
    if (!response.ok) {
      const detail = parsed && parsed.detail ? parsed.detail : `${response.status} ${response.statusText}`;
      return { ok: false, status: response.status, body: parsed, error: detail };
    }
    return { ok: true, status: response.status, body: parsed, response };
  }

  // A binary answer (an image, an export): {ok, blob} or {ok: false, error}; never throws.
  async function blob(path, token) {
    let response;
    try {
      response = await fetch(path, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
    } catch (error) {
      return { ok: false, error: "The network is unavailable; try again." };
    }
    if (!response.ok) {
      const type = response.headers.get("content-type") || "";
      const body = type.includes("json") ? await response.json().catch(() => null) : null;
      return { ok: false, error: (body && body.detail) || `${response.status} ${response.statusText}` };
    }
    try {
      return { ok: true, blob: await response.blob() };
    } catch (error) {
      return { ok: false, error: "The answer was incomplete; try again." };
    }
  }

  // A file from the API (an export): only a successful answer is saved, an error is reported.
  async function download(path, token, filename) {
    const answer = await blob(path, token);
    if (!answer.ok) return answer.error;
    const link = document.createElement("a");
    link.href = URL.createObjectURL(answer.blob);
    link.download = filename;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
    return null;
  }

  function wsUrl(path, params) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== null && v !== undefined));
    return `${scheme}://${location.host}${path}?${query}`;
  }

  // The claims of a signed token (role, subject, store), read to choose what a page shows; the server
  // checks the signature on every call.
  function claims(jwt) {
    try {
      const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(atob(part + "=".repeat((4 - (part.length % 4)) % 4)));
    } catch (error) {
      return null;
    }
  }

  // A socket that reconnects with its last id (replay, or a reset) until a final close code. It
  // starts after `startAfter` (0: what the stream still holds; null: from now on), or, with
  // `lastIdKey`, after the last message this browser showed (kept in localStorage, across visits).
  // onMessage(message), onState("connecting" | "live" | "offline" | "signed-out", reason).
  function liveSocket({ path, token, startAfter = null, lastIdKey = null, onMessage, onState }) {
    let retries = 0;
    let socket = null;
    let stopped = false;
    let retry = null;
    let lastId = lastIdKey && localStorage.getItem(lastIdKey) !== null ? Number(localStorage.getItem(lastIdKey)) : startAfter;

    function connect() {
      retry = null;
      if (stopped) return;
      socket = new WebSocket(wsUrl(path, { token, last_id: lastId }));
      onState("connecting");
      socket.onopen = () => { retries = 0; onState("live"); };
      socket.onmessage = (event) => {
        let message;
        try { message = JSON.parse(event.data); } catch (error) { return; }
        if (typeof message.id === "number") {
          lastId = Math.max(lastId || 0, message.id);
          if (lastIdKey) localStorage.setItem(lastIdKey, String(lastId));
        }
        onMessage(message);
      };
      socket.onclose = (event) => {
        if (stopped) return;
        if (protocol.final.includes(event.code)) {
          onState("signed-out", event.reason);
          return;
        }
        onState("offline");
        const delay = Math.min(protocol.reconnect.max_delay_ms,
          protocol.reconnect.first_delay_ms * protocol.reconnect.factor ** retries++);
        retry = setTimeout(connect, delay);
      };
    }

    connect();
    return {
      send(message) {
        if (socket && socket.readyState === WebSocket.OPEN) { socket.send(JSON.stringify(message)); return true; }
        return false;
      },
      close() { stopped = true; clearTimeout(retry); if (socket) socket.close(); },
    };
  }

  function el(tag, text, className, attributes = {}) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (className) node.className = className;
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    return node;
  }

  function distance(metres) {
    return metres < 1000 ? `${Math.round(metres / 10) * 10} m` : `${(metres / 1000).toFixed(1)} km`;
  }

  function minutes(seconds) {
    return `${Math.max(1, Math.round(seconds / 60))} min`;
  }

  // A short tone; browsers allow sound only after a click (the page's "Enable sound" button).
  function beep(audio, frequency = 880) {
    if (!audio) return;
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = frequency;
    gain.gain.setValueAtTime(0.2, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.4);
    tone.connect(gain).connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.4);
  }

  // A map of the page's own: the library from npm, the basemap the app serves beneath the page's layers
  // (basemap.js: the operator's PMTiles, or land and districts), a scale bar and the attribution.
  function map(container, { center, zoom, background = "#f6f4ef" }) {
    if (typeof maplibregl === "undefined") return null;
    maplibregl.setWorkerUrl("/vendor/maplibre-gl/maplibre-gl-csp-worker.js");
    const instance = new maplibregl.Map({
      container,
      style: { version: 8, sources: {},
        layers: [{ id: "basemap-background", type: "background", paint: { "background-color": background } }] },
      center, zoom, attributionControl: false,
    });
    instance.addControl(new maplibregl.NavigationControl({ showCompass: false }));
    instance.addControl(new maplibregl.ScaleControl({ unit: "metric" }));
    if (window.lbsBasemap) instance.once("load", () => window.lbsBasemap.attach(instance));
    return instance;
  }

  return { session, claims, api, blob, download, wsUrl, liveSocket, el, distance, minutes, beep, map, protocol };
})();
