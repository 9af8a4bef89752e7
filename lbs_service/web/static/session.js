"use strict";
// Sign-in shared by the pages: a `?token=` in the address is kept for this tab only
// (sessionStorage) and removed from the address bar at once, so it is not bookmarked, shared or
// sent on as a referrer.
window.lbsSession = (key) => {
  const params = new URLSearchParams(location.search);
  if (params.get("token")) {
    sessionStorage.setItem(key, params.get("token"));
    params.delete("token");
    const rest = params.toString();
    history.replaceState(null, "", location.pathname + (rest ? `?${rest}` : ""));
  }
  return { token: sessionStorage.getItem(key), params };
};
