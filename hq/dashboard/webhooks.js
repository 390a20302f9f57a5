// The dashboard's webhooks: each channel's webhook with what it delivered, retried and parked,
// read from /fleet/api/webhooks every few seconds while the fleet is shown. A parked change's
// Retry button queues it again (its shopper's held changes follow it in order). Builds on
// dashboard.js's $, el, ago, toast and showSignIn; every string goes into the page as text.
"use strict";

const WEBHOOKS_EVERY_MS = 3000;
const CHANGE_NAMES = {
  product_view: "Product view", suggestion_tap: "Suggestion touched", wishlist_add: "Wishlist add",
  wishlist_remove: "Wishlist removal", preference: "Preference", display_name: "Display name",
  consent: "Consent", erase: "Erase",
};
let webhooksTimer = null;

function hookStat(label, value, className = "") {
  return el("div", { className: `hook-stat ${className}`.trim() }, el("dt", {}, label), el("dd", {}, String(value)));
}

function parkedRow(hook, parked) {
  const retryOne = el("button", {
    type: "button", textContent: "Retry", className: "primary", title: "Send it again now, then the changes it holds back",
    "aria-label": `Retry change ${parked.cursor} for ${hook.channel}`,
  });
  retryOne.addEventListener("click", () => retryParked(hook.channel, { cursor: parked.cursor }, retryOne,
    `Change ${parked.cursor} queued again for ${hook.channel}`));
  return el("tr", { dataset: { cursor: String(parked.cursor) } },
    el("td", { className: "shopper", title: parked.shopper }, parked.shopper),
    el("td", {}, CHANGE_NAMES[parked.kind] || parked.kind || "—"),
    el("td", { className: "num" }, String(parked.cursor)),
    el("td", { className: "num" }, String(parked.attempts)),
    el("td", { className: "problem", title: parked.problem }, parked.problem || "—"),
    el("td", { className: "muted", title: parked.parked_at }, ago(parked.parked_at)),
    el("td", { className: "num" }, parked.held === 1 ? "1 change" : `${parked.held} changes`),
    el("td", { className: "actions" }, retryOne));
}

function webhookCard(hook) {
  const card = el("section", { className: hook.parked_now ? "webhook has-parked" : "webhook",
    dataset: { channel: hook.channel } });
  const state = hook.parked_now
    ? el("span", { className: "pill parked" }, `${hook.parked_now} parked`)
    : el("span", { className: "pill online" }, "Delivering");
  const head = el("header", {}, el("h3", {}, hook.channel), state, el("span", { className: "hook-url muted" }, hook.url));
  if (hook.parked_now > 1) {
    const retryAll = el("button", { type: "button", textContent: `Retry all ${hook.parked_now}`,
      "aria-label": `Retry every parked change for ${hook.channel}` });
    retryAll.addEventListener("click", () => retryParked(hook.channel, { all: true }, retryAll,
      `Every parked change queued again for ${hook.channel}`));
    head.append(retryAll);
  }
  const stats = el("dl", { className: "hook-stats" },
    hookStat("Delivered", hook.delivered, "ok"), hookStat("Retried", hook.retried),
    hookStat("Parked", hook.parked, hook.parked ? "bad" : ""), hookStat("Waiting", hook.queued));
  card.append(head, stats);
  if (hook.parked_changes.length) {
    const table = el("table", { className: "parked-table" },
      el("thead", {}, el("tr", {}, ...["Shopper", "Change", "#Cursor", "#Attempts", "Last problem", "Parked",
        "#Holding back", ""].map((name) => el("th", { scope: "col", className: name.startsWith("#") ? "num" : "" },
        name.replace("#", ""))))),
      el("tbody", {}, ...hook.parked_changes.map((parked) => parkedRow(hook, parked))));
    card.append(el("p", { className: "parked-note" }, "Parked changes hold back their shopper's later changes for "
      + "this webhook; other shoppers' keep flowing. Retry once the receiver is fixed."), table);
    if (hook.parked_now > hook.parked_changes.length) {
      card.append(el("p", { className: "muted" }, `… and ${hook.parked_now - hook.parked_changes.length} more`));
    }
  }
  return card;
}

function renderWebhooks(hooks) {
  $("webhooks").hidden = hooks.length === 0;
  $("sum-parked-tile").hidden = hooks.length === 0;
  $("sum-parked").textContent = hooks.reduce((sum, hook) => sum + hook.parked_now, 0);
  $("webhook-list").replaceChildren(...hooks.map(webhookCard));
}

async function refreshWebhooks() {
  if (document.hidden) return;
  const response = await fetch("/fleet/api/webhooks").catch(() => null);
  if (!response || !response.ok) return;  // a sign-out shows on the fleet's side
  renderWebhooks((await response.json()).webhooks);
}

async function retryParked(channel, body, button, done) {
  button.disabled = true;
  try {
    const response = await fetch(`/fleet/api/webhooks/${encodeURIComponent(channel)}/retry`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    const answer = await response.json().catch(() => ({}));
    if (response.status === 401) return showSignIn();
    if (!response.ok) throw new Error(answer.detail || response.statusText);
    toast(done);
    await refreshWebhooks();
  } catch (error) {
    toast(`Retry for ${channel} failed: ${error.message}`, true);
  } finally {
    button.disabled = false;
  }
}

document.addEventListener("fleet-shown", () => {
  refreshWebhooks();
  if (webhooksTimer === null) webhooksTimer = setInterval(refreshWebhooks, WEBHOOKS_EVERY_MS);
});
document.addEventListener("fleet-hidden", () => {
  clearInterval(webhooksTimer);
  webhooksTimer = null;
  $("webhooks").hidden = true;
  $("sum-parked-tile").hidden = true;
});
