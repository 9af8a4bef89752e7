"use strict";
// Campaign results for a merchant (or the operator): the funnel of a campaign - sent, arrived,
// claimed, redeemed, ordered, reviewed - as bars with the conversion from sent, the same by store,
// its audience's size, and the CSV. Counts of fewer than k people come withheld and show as a dash.
(() => {
  const $ = (id) => document.getElementById(id);
  const { token, params } = lbs.session("lbs-merchant-token");
  const STAGES = ["sent", "arrived", "claimed", "redeemed", "ordered", "reviewed"];
  const shown = (n) => (n === null ? "–" : String(n));
  let byId = new Map();

  async function start() {
    if (!token) return;
    const listed = await lbs.api("/v1/campaigns");
    if (!listed.ok) { $("status").textContent = listed.error; return; }
    const mine = (lbs.claims(token) || {}).merchant_id;
    const campaigns = listed.body.filter((c) => mine === undefined || mine === null || c.merchant_id === mine
      || c.level === "store");
    byId = new Map(campaigns.map((c) => [String(c.id), c]));
    $("campaign").replaceChildren(...campaigns.map((c) => new Option(c.title, c.id)));
    if (params.get("campaign")) $("campaign").value = params.get("campaign");
    $("campaign").addEventListener("change", load);
    $("export-csv").addEventListener("click", async () => {
      const id = $("campaign").value;
      const error = await lbs.download(`/v1/reports/campaigns/${id}/funnel?format=csv`, token, `funnel-${id}.csv`);
      if (error) $("status").textContent = error;
    });
    if (campaigns.length) await load(); else $("status").textContent = "No campaign of yours is running.";
  }

  async function load() {
    const id = $("campaign").value;
    $("status").textContent = "Loading…";
    const [answer, audience] = await Promise.all([lbs.api(`/v1/reports/campaigns/${id}/funnel`, { token }),
      lbs.api(`/v1/campaigns/${id}/audience`, { token })]);
    if (!answer.ok) {
      $("status").textContent = answer.status === 404 ? "This campaign is not yours." : answer.error;
      $("funnel").replaceChildren();
      $("stores").replaceChildren();
      return;
    }
    const funnel = answer.body;
    $("k").textContent = String(funnel.k);
    $("status").textContent = `${shown(funnel.sent)} people were sent this offer.`;
    const targeted = byId.get(id) && byId.get(id).audience;
    $("audience").hidden = !audience.ok;
    if (audience.ok && !targeted) $("audience").textContent = "Audience: everyone near a participating store.";
    else if (audience.ok) {
      $("audience").textContent = audience.body.size === null ? `Audience: fewer than ${audience.body.k} people.`
        : `Audience: ${audience.body.size}${audience.body.capped ? "+" : ""} people.`;
    }
    const top = Math.max(1, ...STAGES.map((s) => funnel[s] || 0));
    $("funnel").replaceChildren(...STAGES.map((stage) => {
      const row = lbs.el("div", null, "stage", { "data-testid": `stage-${stage}` });
      const bar = lbs.el("div", null, funnel[stage] === null ? "bar withheld" : "bar");
      if (funnel[stage] !== null) bar.style.width = `${(100 * funnel[stage]) / top}%`;
      const rate = stage === "sent" || funnel.rates[stage] === null ? "" : ` · ${Math.round(funnel.rates[stage] * 100)}%`;
      row.append(lbs.el("span", stage), bar, lbs.el("span", `${shown(funnel[stage])}${rate}`, null,
        { "data-testid": `count-${stage}` }));
      return row;
    }));
    $("stores").replaceChildren(...funnel.by_store.map((row) => {
      const tr = lbs.el("tr");
      tr.append(lbs.el("td", String(row.store_id)), ...STAGES.map((s) => lbs.el("td", shown(row[s]))));
      return tr;
    }));
  }

  start();
})();
