// The dashboard's alarm log: the newest alarms (a store's key: its store's), open ones marked
// in red, each with when it was raised and cleared and how its notices went to the store's
// webhooks and e-mail addresses; read from /fleet/api/alarms every few seconds while the
// fleet is shown. Builds on page.js's $, el and storeTitle and dashboard.js's ago; every
// string goes in as text.
"use strict";

const ALARMS_EVERY_MS = 5000;
const ALARM_NAMES = {
  offline: "Offline in opening hours", reader_offline: "Reader offline", backlog_high: "Backlog high",
  update_failed: "Update failed", disk_low: "Disk nearly full", disk_full: "Disk full",
  request_unanswered: "Request unanswered",
};
let alarmsTimer = null;

function when(iso) {
  return new Date(iso).toLocaleString([], { dateStyle: "short", timeStyle: "medium" });
}

function noticeWords(alarm) {
  if (!alarm.notices.length) return el("span", { className: "muted" }, "No route: dashboard only");
  return el("ul", { className: "notices" }, ...alarm.notices.map((n) => el("li", {
    className: `notice ${n.state}`, title: n.problem || "",
  }, `${n.event === "raised" ? "Raised" : "Cleared"} → ${n.route}: `
    + (n.state === "sent" ? "sent" : n.state === "parked" ? `gave up (${n.problem})`
      : n.attempts ? `retrying after ${n.attempts} attempt(s): ${n.problem}` : "not sent yet"))));
}

function alarmRow(alarm) {
  const open = alarm.cleared_at === null;
  return el("tr", { className: open ? "alarm open" : "alarm", dataset: { alarm: String(alarm.id) } },
    el("td", { title: alarm.raised_at }, when(alarm.raised_at)),
    el("td", {}, alarm.kiosk ? `${storeTitle(alarm.store)} · ${alarm.kiosk}` : `${storeTitle(alarm.store)}, the store`),
    el("td", {}, el("strong", {}, ALARM_NAMES[alarm.kind] || alarm.kind), el("br"),
      el("span", { className: "muted" }, alarm.message)),
    el("td", {}, open ? el("span", { className: "pill alarm-open" }, "Open")
      : el("span", { title: alarm.cleared_at }, `${when(alarm.cleared_at)} (${ago(alarm.cleared_at)})`)),
    el("td", {}, noticeWords(alarm)));
}

function renderAlarms(alarms) {
  $("alarms").hidden = false;
  $("alarms-open").textContent = String(alarms.filter((a) => a.cleared_at === null).length);
  $("alarm-empty").hidden = alarms.length > 0;
  $("alarm-table").hidden = alarms.length === 0;
  $("alarm-list").replaceChildren(...alarms.map(alarmRow));
}

async function refreshAlarms() {
  if (document.hidden) return;
  const response = await fetch("/fleet/api/alarms?limit=20").catch(() => null);
  if (!response || !response.ok) return;  // a sign-out shows on the fleet's side
  renderAlarms((await response.json()).alarms);
}

document.addEventListener("fleet-shown", () => {
  refreshAlarms();
  if (alarmsTimer === null) alarmsTimer = setInterval(refreshAlarms, ALARMS_EVERY_MS);
});
document.addEventListener("fleet-hidden", () => {
  clearInterval(alarmsTimer);
  alarmsTimer = null;
  $("alarms").hidden = true;
});
