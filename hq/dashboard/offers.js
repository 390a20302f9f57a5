// The dashboard's offers list: every offer under each store it runs in, from /fleet/api/offers,
// read again every few seconds so the counts move while the page is open. Signs in with
// the fleet key like the fleet page (the same cookie). Every string goes in as text.
"use strict";

const REFRESH_EVERY_MS = 5000;
const STATES = { running: "Running", scheduled: "Scheduled", ended: "Ended" };
const AUDIENCES = { everyone: "Everyone", members: "Members only" };
let refreshTimer = null;

const DATE = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", year: "numeric" });
const TIME = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit" });

function moment(iso) {
  const at = new Date(iso);
  const time = TIME.format(at);
  return time === "00:00" ? DATE.format(at) : `${DATE.format(at)} ${time}`;
}

function inWords(ms) {
  const days = Math.round(Math.abs(ms) / 86400000);
  if (days >= 2) return `${days} days`;
  const hours = Math.max(1, Math.round(Math.abs(ms) / 3600000));
  return hours === 1 ? "1 hour" : `${hours} hours`;
}

function stateWhen(offer, now) {
  if (offer.state === "scheduled") return `starts in ${inWords(Date.parse(offer.starts) - now)}`;
  if (offer.state === "running") return `ends in ${inWords(Date.parse(offer.ends) - now)}`;
  return `ended ${inWords(now - Date.parse(offer.ends))} ago`;
}

function discount(d) {
  const value = Number(d.value);
  const money = value.toFixed(2);
  if (d.kind === "percent") return `${value}% off`;
  return d.kind === "amount" ? `${money} off` : `${money} fixed price`;
}

function count(value) {
  if (value === undefined || value === null) return el("td", { className: "num count-zero" }, "—");
  return el("td", { className: value ? "num" : "num count-zero" }, String(value));
}

function offerRow(offer, now) {
  return el("tr", { className: offer.state, dataset: { offer: offer.offer, state: offer.state } },
    el("td", { className: "offer-cell" }, el("span", { className: "offer-title" }, offer.title),
      el("span", { className: "offer-id" }, offer.offer)),
    el("td", {}, el("span", { className: `pill ${offer.state}` }, STATES[offer.state] || offer.state),
      el("span", { className: "state-when" }, stateWhen(offer, now))),
    el("td", { className: "window", title: `${offer.starts} – ${offer.ends}` },
      el("span", { className: "window-start" }, `${moment(offer.starts)} –`),
      el("span", { className: "window-end" }, moment(offer.ends))),
    el("td", {}, discount(offer.discount)),
    el("td", { className: "applies", title: offer.applies_to }, offer.applies_to),
    el("td", {}, AUDIENCES[offer.audience] || offer.audience,
      el("span", { className: "state-when" }, offer.per_shopper === 1 ? "once per shopper"
        : `${offer.per_shopper} times per shopper`)),
    count(offer.sign_taps), count(offer.saves), count(offer.redemptions));
}

function render(data) {
  const now = Date.parse(data.generated_at);
  const all = data.stores.flatMap((s) => s.offers);
  const unique = new Map(all.map((o) => [o.offer, o]));
  for (const state of Object.keys(STATES)) {
    $(`sum-${state}`).textContent = [...unique.values()].filter((o) => o.state === state).length;
  }
  $("sum-taps").textContent = all.reduce((sum, o) => sum + o.sign_taps, 0);
  $("empty").hidden = all.length > 0;
  const template = $("store-template");
  $("stores").replaceChildren(...data.stores.map((store) => {
    const section = template.content.firstElementChild.cloneNode(true);
    section.dataset.store = store.store;
    section.querySelector(".store-name").textContent = storeTitle(store.store);
    const running = store.offers.filter((o) => o.state === "running").length;
    section.querySelector(".store-count").textContent =
      `${running} running of ${store.offers.length} offer${store.offers.length === 1 ? "" : "s"}`;
    section.querySelector("tbody").append(...store.offers.map((o) => offerRow(o, now)));
    return section;
  }));
  $("updated").dataset.live = "live";
  $("updated").textContent = `Updated ${TIME.format(new Date())}`;
}

function showSignIn() {
  clearInterval(refreshTimer);
  refreshTimer = null;
  $("offers").hidden = true;
  $("stores").replaceChildren();  // nothing of HQ's stays in the page once signed out
  $("summary").hidden = true;
  $("signout").hidden = true;
  $("signin").hidden = false;
  $("updated").dataset.live = "down";
  $("updated").textContent = "Signed out";
  $("signin-key").focus();
}

async function refresh() {
  const response = await fetch("/fleet/api/offers").catch(() => null);
  if (response && (response.status === 401 || response.status === 403)) {
    showSignIn();
    if (response.status === 403) sayStoreKeyOnly();
    return;
  }
  if (!response || !response.ok) {
    $("updated").dataset.live = "down";
    $("updated").textContent = "HQ is out of reach; retrying";
    return;
  }
  render(await response.json());
  $("signin").hidden = true;
  $("offers").hidden = false;
  $("summary").hidden = false;
  $("signout").hidden = false;
  if (refreshTimer === null) refreshTimer = setInterval(refresh, REFRESH_EVERY_MS);
}

wireSignIn(refresh, showSignIn);
refresh();
