// The finder's service worker: shows a Web Push (an offer nearby, a store's answer, an order ready)
// while the app is closed, and opens the finder on it when tapped. The payload holds only what the
// notification shows: {title, body, url, tag}.
"use strict";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

function notificationOf(data) {
  const title = typeof data.title === "string" && data.title ? data.title : "Nearby";
  const body = typeof data.body === "string" ? data.body : "";
  const tag = typeof data.tag === "string" ? data.tag : undefined;
  return {title, options: {body, tag, renotify: Boolean(tag), icon: "/favicon.ico", data: {url: ownPath(data.url)}}};
}

// Only a page of this app is ever opened: whatever a payload names is resolved as the browser would,
// and anything that lands on another origin ("//x", "/\\x", "/\t/x", "https://x") opens the finder.
function ownPath(candidate) {
  if (typeof candidate !== "string") return "/";
  let url;
  try {
    url = new URL(candidate, self.location.origin);
  } catch (error) {
    return "/";
  }
  return url.origin === self.location.origin ? url.pathname + url.search + url.hash : "/";
}

self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (error) {
    data = {body: event.data ? event.data.text() : ""};
  }
  const {title, options} = notificationOf(data);
  event.waitUntil(self.registration.showNotification(title, options));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL(event.notification.data && event.notification.data.url || "/", self.location.origin);
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({type: "window", includeUncontrolled: true});
    for (const client of windows) {
      if (new URL(client.url).origin === url.origin && "focus" in client) {
        await client.focus();
        if ("navigate" in client) await client.navigate(url.href);
        return;
      }
    }
    await self.clients.openWindow(url.href);
  })());
});
