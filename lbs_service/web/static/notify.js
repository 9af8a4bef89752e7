"use strict";
// "Notify me when the app is closed": registers the finder's service worker (/sw.js) and subscribes
// this browser to Web Push with the server's VAPID key, or unsubscribes it. The server pushes only
// what the open page would not get: when none of the user's sockets is open, an offer near them
// (with their consent to location marketing), a store's answer, an order ready for pickup.
(() => {
  const $ = (id) => document.getElementById(id);
  const box = $("push-switch");
  const note = $("push-note");
  const { token } = lbs.session("lbs-user-token");
  const ID_KEY = "lbs-push-subscription-id"; // this browser's subscription id, to delete it later
  const supported = "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
  if (!box) return;
  if (!supported || !token) {
    box.disabled = true;
    note.textContent = supported ? "" : "(not in this browser)";
    return;
  }
  const registered = navigator.serviceWorker.register("/sw.js", { scope: "/" });
  registered.then(async (registration) => {
    // On only if this browser is subscribed *for this user*: on a shared device another user's
    // subscription is not theirs to see as "on".
    const existing = await registration.pushManager.getSubscription();
    const mine = await lbs.api("/v1/users/me/push-subscriptions", { token });
    const id = Number(localStorage.getItem(ID_KEY));
    box.checked = Boolean(existing) && Notification.permission === "granted" && mine.ok
      && mine.body.subscriptions.some((s) => s.id === id);
    box.disabled = false;
    document.body.dataset.pushReady = "true";
  }, (error) => { note.textContent = `(unavailable: ${error.message})`; });

  box.addEventListener("change", async () => {
    box.disabled = true;
    note.textContent = "";
    try {
      if (box.checked) await subscribe(); else await unsubscribe();
    } catch (error) {
      box.checked = !box.checked;
      note.textContent = `(${error.message})`;
    } finally {
      box.disabled = false;
    }
  });

  async function subscribe() {
    if (await Notification.requestPermission() !== "granted") throw new Error("notifications are blocked for this site");
    const key = await lbs.api("/v1/push/vapid-public-key");
    if (!key.ok) throw new Error(key.error);
    const registration = await registered;
    let subscription;
    try {
      subscription = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key.body.key });
    } catch (error) {
      throw new Error(`the browser's push service did not answer: ${error.message}`);
    }
    const answer = await lbs.api("/v1/users/me/push-subscriptions", { method: "POST", token, body: subscription.toJSON() });
    if (!answer.ok) {
      await subscription.unsubscribe();
      throw new Error(answer.error);
    }
    localStorage.setItem(ID_KEY, String(answer.body.id));
  }

  async function unsubscribe() {
    const id = localStorage.getItem(ID_KEY);
    if (id) {
      const answer = await lbs.api(`/v1/users/me/push-subscriptions/${encodeURIComponent(id)}`, { method: "DELETE", token });
      if (!answer.ok && answer.status !== 404) throw new Error(answer.error);
      localStorage.removeItem(ID_KEY);
    }
    const subscription = await (await registered).pushManager.getSubscription();
    if (subscription) await subscription.unsubscribe();
  }
})();
