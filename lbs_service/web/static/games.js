"use strict";
// Scratch cards and wheels on the finder. The server draws (POST /v1/games/{id}/plays, with an
// Idempotency-Key so a retried press is the same play); the page only reveals what was drawn: a
// wheel that comes to rest on the answer, or a silver card scratched away (by a finger, or by itself).
window.lbsGames = (() => {
  const NONE = "#d9d9d9";
  const COLOURS = ["#14532d", "#b45309", "#1d4ed8", "#7e22ce", "#be123c", "#0f766e"];
  const still = () => window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  function newKey() {
    if (crypto.randomUUID) return crypto.randomUUID();
    return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
  }

  function percent(bp) { return `${(bp / 100).toLocaleString(undefined, { maximumFractionDigits: 2 })}%`; }

  function outcomeText(outcome) {
    return { none: "No prize this time.", held: "You drew a prize you already hold: nothing new this time.",
      out_of_stock: "You drew a prize that has just run out." }[outcome] || "";
  }

  // The wheel: one slice per prize, sized by its odds, and the rest "no prize".
  function wheel(game) {
    let from = 0;
    const slices = game.prizes.map((p, i) => {
      const slice = { campaignId: p.campaign_id, start: from, end: from + p.odds_bp / 10000 * 360, colour: COLOURS[i % COLOURS.length] };
      from = slice.end;
      return slice;
    });
    slices.push({ campaignId: null, start: from, end: 360, colour: NONE });
    const disc = lbs.el("div", null, "wheel-disc", { "data-testid": "wheel" });
    disc.style.background = `conic-gradient(${slices.map((s) => `${s.colour} ${s.start}deg ${s.end}deg`).join(", ")})`;
    const element = lbs.el("div", null, "wheel-frame");
    element.append(lbs.el("div", "▼", "wheel-pointer"), disc);
    let turned = 0;
    return {
      element,
      reveal(play) {
        const won = play.prize ? play.prize.campaign_id : null;
        const slice = slices.find((s) => s.campaignId === won && s.end > s.start) || slices[slices.length - 1];
        const middle = (slice.start + slice.end) / 2;
        turned += 360 * 4 + ((360 - middle - (turned % 360)) % 360 + 360) % 360; // the slice's middle under the pointer
        disc.dataset.restsOn = won === null ? "none" : String(won);
        return settle(disc, () => { disc.style.transform = `rotate(${turned}deg)`; });
      },
    };
  }

  // The scratch card: the answer under a silver layer that a finger (or the page, after a moment) wipes off.
  function scratch() {
    const element = lbs.el("div", null, "scratch-card", { "data-testid": "scratch" });
    const under = lbs.el("div", "?", "scratch-under");
    const silver = lbs.el("canvas", null, "scratch-silver", { width: "240", height: "80" });
    element.append(under, silver);
    const paint = silver.getContext("2d");
    const cover = () => {
      paint.globalCompositeOperation = "source-over";
      paint.fillStyle = "#b8b8b8";
      paint.fillRect(0, 0, silver.width, silver.height);
      paint.fillStyle = "#8a8a8a";
      paint.font = "16px system-ui, sans-serif";
      paint.fillText("scratch here", 75, 46);
    };
    cover();
    let armed = false;
    silver.addEventListener("pointermove", (event) => {
      if (!armed) return;
      const box = silver.getBoundingClientRect();
      paint.globalCompositeOperation = "destination-out";
      paint.beginPath();
      paint.arc((event.clientX - box.left) * silver.width / box.width, (event.clientY - box.top) * silver.height / box.height, 14, 0, 2 * Math.PI);
      paint.fill();
    });
    return {
      element,
      reveal(play) {
        cover();
        under.textContent = play.prize ? "You won!" : "No prize";
        element.dataset.revealed = play.prize ? "prize" : "none";
        armed = true;
        return settle(silver, () => { silver.classList.add("wiped"); }, 1500);
      },
    };
  }

  // Run the change that starts an animation, and resolve when it has ended (or at once without motion).
  function settle(node, start, delay = 0) {
    return new Promise((resolve) => {
      if (still()) { start(); resolve(); return; }
      const done = () => { node.removeEventListener("transitionend", done); resolve(); };
      node.addEventListener("transitionend", done);
      setTimeout(() => { start(); setTimeout(done, 4000); }, delay); // never wait for good on a missed event
    });
  }

  function block(game, token, onCoupon) {
    const box = lbs.el("div", null, `game ${game.kind}`, { "data-testid": "game" });
    box.dataset.gameId = String(game.id);
    const titles = new Map(game.prizes.map((p) => [p.campaign_id, p.title]));
    box.append(lbs.el("strong", game.title), lbs.el("div", `${game.prizes.map((p) => `${p.title}: ${percent(p.odds_bp)}`)
      .join(" · ")} · ${game.plays_per_user_per_day} play(s) a day`, "meta"));
    const stage = game.kind === "wheel" ? wheel(game) : scratch();
    const play = lbs.el("button", token ? (game.kind === "wheel" ? "Spin the wheel" : "Scratch a card") : "Sign in to play",
      null, { type: "button", "data-testid": "play" });
    play.disabled = !token;
    const result = lbs.el("div", null, "meta", { "data-testid": "game-result", "aria-live": "polite" });
    play.onclick = async () => {
      play.disabled = true;
      result.textContent = "";
      const key = newKey();
      let answer = null;
      for (let attempt = 0; attempt < 3 && (!answer || answer.status === 0); attempt += 1) {
        answer = await lbs.api(`/v1/games/${game.id}/plays`, { method: "POST", token, headers: { "Idempotency-Key": key } });
      }
      if (!answer.ok) { result.textContent = answer.error; play.disabled = false; return; }
      await stage.reveal(answer.body);
      box.dataset.outcome = answer.body.outcome;
      const prize = answer.body.prize;
      result.textContent = prize ? `You won: ${titles.get(prize.campaign_id) || "a coupon"}. Your code: ${prize.coupon.code}`
        : outcomeText(answer.body.outcome);
      if (prize) await onCoupon(box, prize.coupon.id);
      play.disabled = false;
    };
    box.append(stage.element, play, result);
    return box;
  }

  return { block };
})();
