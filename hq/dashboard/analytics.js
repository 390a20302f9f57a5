// The dashboard's analytics page: the five answers of /fleet/api/analytics/<name> for a range
// of local days and a store, drawn as tables and Chart.js charts (chart.umd.min.js, shipped
// with HQ). HQ's fleet key sees every store; a store's key only its own, so the store filter
// is then that store alone (HQ answers with the key's store when none is asked for). The range
// is kept in the address, so a view can be sent as a link. Every string goes in as text.
"use strict";

const REFRESH_EVERY_MS = 30000;  // taps land while the page is open; the roll-ups are cheap to read
const ANSWERS = ["top-products", "hourly", "funnel", "lift", "uptime"];
const STEPS = {
  tap: "Tapped a product", suggestion: "Tapped a suggestion",
  wishlist_or_reservation: "Wishlisted or reserved", order: "Ordered",
};
const COLOURS = { taps: "#1f5fbf", visits: "#1f7a3e", muted: "#5f6b7a", line: "#dfe3e8", without: "#aab4c0" };
const UPTIME_WARN = 0.95;  // below: a kiosk a store manager should ask about
const UPTIME_BAD = 0.8;  // below: shoppers met a dead kiosk for a good part of the day
const PERCENT = new Intl.NumberFormat("en-GB", { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });
const NUMBER = new Intl.NumberFormat("en-GB");
const HOURS = new Intl.NumberFormat("en-GB", { maximumFractionDigits: 1 });
const TIME = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit" });

const charts = {};
let refreshTimer = null;
let ownStore = null;  // a store key's store: the only one it may see
let storeNames = new Map();  // id -> name, from HQ's catalog

function isoDay(date) {
  const month = String(date.getMonth() + 1).padStart(2, "0");
  return `${date.getFullYear()}-${month}-${String(date.getDate()).padStart(2, "0")}`;
}

function daysBack(days) {
  const to = new Date();
  const from = new Date(to);
  from.setDate(to.getDate() - (days - 1));
  return { from: isoDay(from), to: isoDay(to) };
}

function thisMonth() {
  const today = new Date();
  return { from: isoDay(new Date(today.getFullYear(), today.getMonth(), 1)), to: isoDay(today) };
}

// What to count, from the address (a link someone sent) or the last 30 days.
function wanted() {
  const query = new URLSearchParams(location.search);
  const range = daysBack(30);
  return {
    from: query.get("from") || range.from, to: query.get("to") || range.to,
    store: query.get("store") || "", limit: query.get("limit") || "10",
  };
}

function setWanted(view) {
  const query = new URLSearchParams({ from: view.from, to: view.to });
  if (view.store) query.set("store", view.store);
  if (view.limit !== "10") query.set("limit", view.limit);
  history.replaceState(null, "", `${location.pathname}?${query}`);
}

function answerQuery(name, view, format) {
  const query = new URLSearchParams({ from: view.from, to: view.to });
  if (view.store) query.set("store", view.store);
  if (name === "top-products") query.set("limit", view.limit);
  if (format) query.set("format", format);
  return `/fleet/api/analytics/${name}?${query}`;
}

class Refused extends Error {
  constructor(status, error, detail) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
    this.error = error;
  }
}

async function answer(name, view) {
  const response = await fetch(answerQuery(name, view));
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new Refused(response.status, body.error || "", body.detail || response.statusText);
  }
  return response.json();
}

function cell(value, className = "num") {
  return el("td", { className: value ? className : `${className} count-zero` }, NUMBER.format(value));
}

function percentCell(value, visits) {
  return el("td", { className: visits ? "num" : "num count-zero" }, visits ? PERCENT.format(value) : "—");
}

function chart(id, config) {
  charts[id]?.destroy();
  charts[id] = new Chart($(id), config);
}

const AXES = {
  grid: { color: COLOURS.line }, border: { display: false }, ticks: { color: COLOURS.muted, precision: 0 },
};

function drawHourly(hourly) {
  const labels = hourly.rows.map((row) => String(row.hour).padStart(2, "0"));
  chart("chart-hourly", {
    data: {
      labels,
      datasets: [
        { type: "bar", label: "Taps", data: hourly.rows.map((r) => r.taps), backgroundColor: COLOURS.taps,
          borderRadius: 3, order: 2 },
        { type: "line", label: "Visits started", data: hourly.rows.map((r) => r.visits),
          borderColor: COLOURS.visits, backgroundColor: COLOURS.visits, pointRadius: 2.5, tension: 0.25,
          order: 1 },
      ],
    },
    options: {
      animation: false, maintainAspectRatio: false, interaction: { mode: "index", intersect: false },
      plugins: { legend: { position: "top", align: "end", labels: { boxWidth: 12 } },
        tooltip: { callbacks: { title: (items) => `${items[0].label}:00–${items[0].label}:59` } } },
      scales: { x: { ...AXES, grid: { display: false } }, y: { ...AXES, beginAtZero: true } },
    },
  });
  $("table-hourly").tBodies[0].replaceChildren(...hourly.rows.map((row) => el("tr", { dataset: { hour: row.hour } },
    el("td", {}, `${String(row.hour).padStart(2, "0")}:00`), cell(row.taps), cell(row.visits))));
}

function drawFunnel(funnel) {
  chart("chart-funnel", {
    type: "bar",
    data: {
      labels: funnel.steps.map((s) => STEPS[s.step] || s.step),
      datasets: [{ label: "Visits", data: funnel.steps.map((s) => s.visits), borderRadius: 3,
        backgroundColor: funnel.steps.map((_, i) => i === funnel.steps.length - 1 ? COLOURS.visits : COLOURS.taps) }],
    },
    options: {
      indexAxis: "y", animation: false, maintainAspectRatio: false, plugins: { legend: { display: false } },
      scales: { x: { ...AXES, beginAtZero: true }, y: { ...AXES, grid: { display: false } } },
    },
  });
  $("table-funnel").tBodies[0].replaceChildren(...funnel.steps.map((s) => el("tr", { dataset: { step: s.step } },
    el("td", {}, STEPS[s.step] || s.step), cell(s.visits), percentCell(s.share, funnel.steps[0].visits))));
}

function liftWords(lift) {
  if (!lift.with_suggestion.visits) return "No visit tapped a suggestion in this range.";
  if (lift.lift === null) return "No visit without a suggestion converted, so there is nothing to compare with.";
  return lift.lift >= 1 ? "the conversion of visits that tapped no suggestion"
    : "the conversion of visits that tapped no suggestion: suggestions did not help here";
}

function drawLift(lift) {
  $("lift-value").textContent = lift.lift === null ? "–" : `${lift.lift.toFixed(2)}×`;
  $("lift-words").textContent = liftWords(lift);
  const groups = [["with", "Tapped a suggestion", lift.with_suggestion],
    ["without", "Tapped no suggestion", lift.without_suggestion]];
  chart("chart-lift", {
    type: "bar",
    data: {
      labels: groups.map(([, label]) => label),
      datasets: [{ label: "Conversion", data: groups.map(([, , g]) => g.conversion * 100), borderRadius: 3,
        backgroundColor: [COLOURS.taps, COLOURS.without] }],
    },
    options: {
      indexAxis: "y", animation: false, maintainAspectRatio: false, plugins: { legend: { display: false },
        tooltip: { callbacks: { label: (item) => PERCENT.format(item.raw / 100) } } },
      scales: { x: { ...AXES, beginAtZero: true, ticks: { ...AXES.ticks, callback: (v) => `${v}%` } },
        y: { ...AXES, grid: { display: false } } },
    },
  });
  $("table-lift").tBodies[0].replaceChildren(...groups.map(([key, label, g]) => el("tr", { dataset: { group: key } },
    el("td", {}, label), cell(g.visits), cell(g.converted), percentCell(g.conversion, g.visits))));
}

function drawTop(top) {
  $("top-empty").hidden = top.rows.length > 0;
  $("table-top").hidden = top.rows.length === 0;
  $("table-top").tBodies[0].replaceChildren(...top.rows.map((p, i) => el("tr", { dataset: { sku: p.sku } },
    el("td", { className: "num muted" }, String(i + 1)),
    el("td", { className: "product", title: p.sku }, el("span", { className: "offer-title" }, p.name || p.sku),
      el("span", { className: "offer-id" }, p.sku)),
    el("td", { className: "muted", title: p.category }, p.category || "—"),
    cell(p.taps), cell(p.visits), cell(p.wishlisted), cell(p.reserved), cell(p.ordered),
    percentCell(p.conversion, p.visits))));
}

function uptimeClass(row) {
  if (!row.open_hours) return "closed";
  if (row.uptime < UPTIME_BAD) return "bad";
  return row.uptime < UPTIME_WARN ? "warn" : "ok";
}

function drawUptime(uptime) {
  $("uptime-empty").hidden = uptime.rows.length > 0;
  $("table-uptime").hidden = uptime.rows.length === 0;
  $("table-uptime").tBodies[0].replaceChildren(...uptime.rows.map((row) => {
    const bar = el("span", { className: "meter-bar" });
    bar.style.width = `${Math.round(Math.min(1, row.uptime) * 100)}%`;  // CSSOM: allowed by the page's CSP
    const level = uptimeClass(row);
    return el("tr", { className: `uptime-${level}`, dataset: { store: row.store, kiosk: row.kiosk } },
      el("td", {}, storeName(row.store)), el("td", { className: "kiosk-id" }, row.kiosk),
      el("td", { className: "num" }, HOURS.format(row.open_hours)),
      el("td", { className: "num" }, HOURS.format(row.online_hours)),
      el("td", { className: "uptime" }, el("span", { className: "uptime-cell" }, el("span", { className: "meter" }, bar),
        el("span", { className: "uptime-value" }, level === "closed" ? "closed" : PERCENT.format(row.uptime)))));
  }));
}

function drawSummary(hourly, lift, uptime) {
  const taps = hourly.rows.reduce((sum, r) => sum + r.taps, 0);
  $("sum-taps").textContent = NUMBER.format(taps);
  $("sum-visits").textContent = NUMBER.format(hourly.rows.reduce((sum, r) => sum + r.visits, 0));
  $("sum-converted").textContent = NUMBER.format(lift.with_suggestion.converted + lift.without_suggestion.converted);
  const open = uptime.rows.reduce((sum, r) => sum + r.open_hours, 0);
  const online = uptime.rows.reduce((sum, r) => sum + r.online_hours, 0);
  $("sum-uptime").textContent = open ? PERCENT.format(online / open) : "–";
}

function fillStores(view, answered) {
  if (!view.store && answered.hourly.store) ownStore = answered.hourly.store;  // a store key's own store
  const select = $("store");
  // The catalog's stores, and any a kiosk reported from that the catalog does not name.
  const stores = ownStore ? [ownStore]
    : [...storeNames.keys(), ...answered.uptime.rows.map((r) => r.store), ...(view.store ? [view.store] : [])];
  const options = ownStore ? [] : [el("option", { value: "" }, "Every store")];
  const byName = [...new Set(stores)].sort((a, b) => storeName(a).localeCompare(storeName(b)));
  for (const store of byName) options.push(el("option", { value: store }, storeName(store)));
  select.replaceChildren(...options);
  select.value = ownStore || view.store;
  select.disabled = ownStore !== null;
  select.title = ownStore ? "Your key sees this store only" : "";
}

function linkCsv(view) {
  for (const link of document.querySelectorAll("a.csv")) {
    const name = link.dataset.table;
    link.href = answerQuery(name, view, "csv");
    link.download = `${name}_${view.store || ownStore || "every-store"}_${view.from}_${view.to}.csv`;
    link.title = `Download this table as CSV`;
  }
}

// The stores of HQ's catalog the key may see (a store key: its own only), by name.
async function knownStoresOf() {
  const response = await fetch("/fleet/api/analytics/stores").catch(() => null);
  if (!response || !response.ok) return;
  const known = await response.json();
  for (const store of known.stores) storeNames.set(store.id, store.name);
  if (known.only) ownStore = known.only;
}

function storeName(id) {
  return storeNames.get(id) || storeTitle(id);
}

function showRangeError(text) {
  $("range-error").textContent = text;
  $("range-error").hidden = !text;
}

// ``again``: the timer's refresh, which leaves the range fields as the manager may be editing them.
async function load(again = false) {
  const view = wanted();
  if (!again) {
    $("from").value = view.from;
    $("to").value = view.to;
    $("limit").value = view.limit;
  }
  if (view.from > view.to) return showRangeError("The range ends before it starts: pick a later “To” day.");
  let answered;
  try {
    const all = await Promise.all(ANSWERS.map((name) => answer(name, view)));
    answered = Object.fromEntries(ANSWERS.map((name, i) => [name, all[i]]));
  } catch (error) {
    if (error instanceof Refused && error.status === 401) return showSignIn();
    if (error instanceof Refused && error.error === "other_store") {
      setWanted({ ...view, store: "" });  // a store key asked for another store: back to its own
      return load();
    }
    if (error instanceof Refused && error.status === 403) {
      showSignIn();
      $("signin-error").textContent = "That key may not see analytics.";
      $("signin-error").hidden = false;
      return null;
    }
    if (error instanceof Refused && error.status === 422) return showRangeError(error.message);
    $("updated").dataset.live = "down";
    $("updated").textContent = "HQ is out of reach; retrying";
    return null;
  }
  showRangeError("");
  $("signin").hidden = true;
  $("analytics").hidden = false;
  $("summary").hidden = false;
  $("signout").hidden = false;
  fillStores(view, answered);
  linkCsv(view);
  drawSummary(answered.hourly, answered.lift, answered.uptime);
  drawHourly(answered.hourly);
  drawFunnel(answered.funnel);
  drawLift(answered.lift);
  drawTop(answered["top-products"]);
  drawUptime(answered.uptime);
  $("updated").dataset.live = "live";
  $("updated").textContent = `Updated ${TIME.format(new Date())}`;
  if (refreshTimer === null) refreshTimer = setInterval(() => load(true), REFRESH_EVERY_MS);
  return null;
}

function showSignIn() {
  clearInterval(refreshTimer);
  refreshTimer = null;
  ownStore = null;
  storeNames = new Map();
  for (const id of Object.keys(charts)) charts[id].destroy();
  for (const table of document.querySelectorAll("table.figures")) table.tBodies[0].replaceChildren();
  $("analytics").hidden = true;  // nothing of HQ's stays in the page once signed out
  $("summary").hidden = true;
  $("signout").hidden = true;
  $("signin").hidden = false;
  $("updated").dataset.live = "down";
  $("updated").textContent = "Signed out";
  $("signin-key").focus();
}

function show(change) {
  setWanted({ ...wanted(), ...change });
  load();
}

$("range").addEventListener("submit", (event) => {
  event.preventDefault();
  show({ from: $("from").value, to: $("to").value, store: $("store").value });
});
$("store").addEventListener("change", () => show({ store: $("store").value }));
$("limit").addEventListener("change", () => show({ limit: $("limit").value }));
for (const button of document.querySelectorAll(".presets button")) {
  button.addEventListener("click", () => show(button.dataset.month ? thisMonth() : daysBack(Number(button.dataset.days))));
}

Chart.defaults.font.family = getComputedStyle(document.documentElement).fontFamily;
Chart.defaults.color = COLOURS.muted;
wireSignIn(async () => { await knownStoresOf(); load(); }, showSignIn);
knownStoresOf().then(load);
