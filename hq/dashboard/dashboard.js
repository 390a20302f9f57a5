// The fleet dashboard: the whole fleet from /fleet/api/stream, kept live by Server-Sent
// Events; commands go to /fleet/api/kiosks/<store>/<kiosk>/commands, and remote care (a
// screenshot, the last log lines) opens in a dialog. Every kiosk-supplied string goes into
// the page as text, never as HTML. A store's manager sees only their store: HQ sends no other.
"use strict";

const COMMANDS = [
  { command: "identify", label: "Identify", title: "Flash the kiosk's screen so staff can find it" },
  { command: "reload_catalog", label: "Reload catalog", title: "Fetch and apply the current catalog now" },
  { command: "lock", label: "Lock", title: "Take the kiosk out of service", danger: true },
  { command: "unlock", label: "Unlock", title: "Put the kiosk back in service" },
];
const COMMAND_NAMES = Object.fromEntries(COMMANDS.map((c) => [c.command, c.label]));
const CARE = [
  { care: "screenshot", label: "Screenshot", title: "See the kiosk's screen (not while a shopper is signed in)" },
  { care: "logs", label: "Logs", title: "The kiosk's last log lines" },
];
const LOG_LINES = 200;

const kiosks = new Map(); // "store/kiosk" -> kiosk
const storeAlerts = new Map(); // store -> its own alerts (late requests asked online)
let renderQueued = false;
let stream = null;

function ago(iso) {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 5) return "just now";
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return new Date(iso).toLocaleDateString();
}

function setLive(state, text) {
  const live = $("live");
  live.dataset.live = state;
  live.textContent = text;
}

function toast(text, failed = false) {
  const note = el("div", { className: failed ? "toast failed" : "toast", role: "status" }, text);
  $("toasts").append(note);
  setTimeout(() => note.remove(), 5000);
}

function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    render();
  });
}

// The software release a kiosk runs (0: the one it was installed with), the one the rollout is
// sending it, and a newer one that failed its health check there and was switched back from.
// A release still on trial has not yet passed its health check.
function softwareCell(k) {
  const cell = el("td", { className: "software" },
    el("span", { className: "release" }, k.software_release ? `r${k.software_release}` : "Installed"));
  if (k.software_on_trial) {
    cell.append(" ", el("span", {
      className: "release-target", title: "Switched to it; its health check has not passed yet",
    }, "on trial"));
  }
  if (k.software_target && k.software_target !== k.software_release && k.software_target !== k.software_failed) {
    cell.append(" ", el("span", {
      className: "release-target", title: `The rollout is sending it release ${k.software_target}`,
    }, `→ r${k.software_target}`));
  }
  if (k.software_failed > k.software_release) {
    cell.append(" ", el("span", {
      className: "release-failed", title: k.software_problem || "It failed its health check",
    }, `r${k.software_failed} failed`));
  }
  return cell;
}

function kioskRow(k) {
  const problem = k.alerts.length > 0;
  const row = el("tr", {
    className: [k.state, problem ? "problem" : ""].join(" ").trim(),
    dataset: { store: k.store, kiosk: k.kiosk, state: k.state },
  });
  const alerts = el("td", { className: "alerts" });
  if (problem) {
    for (const alert of k.alerts) alerts.append(el("span", { className: `alert ${alert.kind}` }, alert.message));
  } else {
    alerts.append(el("span", { className: "no-alerts" }, "—"));
  }
  const actions = el("td", { className: "actions" });
  for (const c of COMMANDS) {
    const button = el("button", {
      type: "button", textContent: c.label, title: c.title, className: c.danger ? "danger" : "",
      dataset: { command: c.command }, "aria-label": `${c.label} ${k.store}/${k.kiosk}`,
    });
    button.addEventListener("click", () => sendCommand(k, c.command, button));
    actions.append(button);
  }
  for (const c of CARE) {
    const button = el("button", {
      type: "button", textContent: c.label, className: "care", dataset: { care: c.care },
      "aria-label": `${c.label} of ${k.store}/${k.kiosk}`, disabled: k.state !== "online",  // none would answer
      title: k.state === "online" ? c.title : "The kiosk is offline",
    });
    button.addEventListener("click", () => openCare(k, c, button));
    actions.append(button);
  }
  row.append(
    el("td", { className: "kiosk-id" }, k.kiosk),
    el("td", {}, el("span", { className: `pill ${k.state}` }, k.state === "online" ? "Online" : "Offline")),
    el("td", { className: "last-seen muted", dataset: { at: k.last_seen }, title: k.last_seen }, ago(k.last_seen)),
    el("td", {}, k.app_version || "—"),
    softwareCell(k),
    el("td", { className: "num-left" }, k.catalog_version ? `v${k.catalog_version}` : "—"),
    el("td", { className: k.alerts.some((a) => a.kind === "backlog_high") ? "num backlog-high" : "num" },
      String(k.backlog)),
    k.state === "online"
      ? el("td", { className: k.reader === "offline" ? "reader-offline" : "" }, k.reader)
      : el("td", { className: "muted", title: `last known: ${k.reader}` }, "—"),  // stale while offline
    alerts,
    actions,
  );
  return row;
}

function render() {
  const needle = $("filter").value.trim().toLowerCase();
  const onlyProblems = $("only-problems").checked;
  const all = [...kiosks.values()];
  $("sum-total").textContent = all.length;
  $("sum-online").textContent = all.filter((k) => k.state === "online").length;
  $("sum-offline").textContent = all.filter((k) => k.state !== "online").length;
  // A store's own alerts (late requests asked online) need attention as much as a kiosk's.
  $("sum-alerts").textContent = all.filter((k) => k.alerts.length > 0).length + storeAlerts.size;
  $("empty").hidden = all.length > 0;

  const byStore = new Map([...storeAlerts.keys()].map((store) => [store, []]));
  for (const k of all.sort((a, b) => (a.store + "/" + a.kiosk).localeCompare(b.store + "/" + b.kiosk))) {
    if (!byStore.has(k.store)) byStore.set(k.store, []);
    byStore.get(k.store).push(k);
  }
  const template = $("store-template");
  const sections = [];
  for (const [store, storeKiosks] of [...byStore].sort(([a], [b]) => a.localeCompare(b))) {
    const own = storeAlerts.get(store) || [];
    const shown = storeKiosks.filter((k) =>
      (!onlyProblems || k.alerts.length > 0)
      && (!needle || store.includes(needle) || k.kiosk.includes(needle)));
    if (shown.length === 0 && (own.length === 0 || (needle && !store.includes(needle)))) continue;
    const section = template.content.firstElementChild.cloneNode(true);
    section.dataset.store = store;
    section.querySelector(".store-name").textContent = storeTitle(store);
    const online = storeKiosks.filter((k) => k.state === "online").length;
    const problems = storeKiosks.filter((k) => k.alerts.length > 0).length;
    const count = section.querySelector(".store-count");
    section.querySelector("table").hidden = storeKiosks.length === 0;
    count.textContent = (storeKiosks.length ? `${online} of ${storeKiosks.length} online` : "no kiosk has reported")
      + (problems ? ` · ${problems} need${problems === 1 ? "s" : ""} attention` : "");
    count.classList.toggle("has-problems", problems > 0);
    section.querySelector(".store-alerts").append(
      ...own.map((alert) => el("span", { className: `alert ${alert.kind}` }, alert.message)));
    if (own.some((alert) => alert.kind === "request_waiting")) {
      section.querySelector(".store-alerts").append(el("a", {
        className: "staff-link", href: `/staff/?store=${encodeURIComponent(store)}`, textContent: "Open the staff page",
      }));
    }
    section.querySelector("tbody").append(...shown.map(kioskRow));
    sections.push(section);
  }
  $("stores").replaceChildren(...sections);
}

async function sendCommand(k, command, button) {
  button.disabled = true;
  try {
    const response = await fetch(
      `/fleet/api/kiosks/${encodeURIComponent(k.store)}/${encodeURIComponent(k.kiosk)}/commands`,
      { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ command }) },
    );
    const body = await response.json().catch(() => ({}));
    if (response.status === 401) return showSignIn();
    if (!response.ok) throw new Error(body.detail || response.statusText);
    const when = body.kiosk_online ? "" : " (it gets it when it is back online)";
    toast(`${COMMAND_NAMES[command]} sent to ${k.kiosk}, ${storeTitle(k.store)}${when}`);
  } catch (error) {
    toast(`${COMMAND_NAMES[command]} for ${k.kiosk} failed: ${error.message}`, true);
  } finally {
    button.disabled = false;
  }
}

// Remote care: the kiosk answers through HQ in a few seconds; its refusal ("in use") is shown as said.
async function openCare(k, care, button) {
  const dialog = $("care");
  const body = $("care-body");
  $("care-title").textContent = `${care.label} · ${k.kiosk}, ${storeTitle(k.store)}`;
  body.replaceChildren(el("p", { className: "muted" }, "Asking the kiosk…"));
  if (!dialog.open) dialog.showModal();
  button.disabled = true;
  const base = `/fleet/api/kiosks/${encodeURIComponent(k.store)}/${encodeURIComponent(k.kiosk)}`;
  try {
    const response = await fetch(care.care === "logs" ? `${base}/logs?lines=${LOG_LINES}` : `${base}/screenshot`);
    if (response.status === 401) {
      dialog.close();
      return showSignIn();
    }
    if (!response.ok) {
      const refusal = await response.json().catch(() => ({}));
      body.replaceChildren(el("p", { className: `care-refused ${refusal.error || ""}` },
        refusal.error === "in_use" ? "In use: a shopper is signed in at this kiosk. Try again once they have gone."
          : (refusal.detail || response.statusText)));
      return;
    }
    if (care.care === "logs") {
      const lines = (await response.json()).lines;
      body.replaceChildren(lines.length ? el("pre", { className: "care-logs" }, lines.join("\n"))
        : el("p", { className: "muted" }, "The kiosk has logged nothing since it started."));
      body.scrollTop = body.scrollHeight;  // the newest lines, where the trouble usually is
    } else {
      const image = el("img", { className: "care-shot", alt: `The screen of ${k.kiosk}` });
      image.src = URL.createObjectURL(await response.blob());
      image.addEventListener("load", () => URL.revokeObjectURL(image.src), { once: true });
      body.replaceChildren(image);
    }
  } catch (error) {
    body.replaceChildren(el("p", { className: "care-refused" }, `No answer: ${error.message}`));
  } finally {
    button.disabled = false;
  }
}

function connect() {
  if (stream) stream.close();
  setLive("connecting", "Connecting…");
  stream = new EventSource("/fleet/api/stream");
  stream.addEventListener("snapshot", (event) => {
    const fleet = JSON.parse(event.data);
    kiosks.clear();
    for (const k of fleet.kiosks) kiosks.set(`${k.store}/${k.kiosk}`, k);
    storeAlerts.clear();
    for (const s of fleet.stores || []) storeAlerts.set(s.store, s.alerts);
    setLive("live", "Live");
    $("fleet").hidden = false;
    $("summary").hidden = false;
    $("signout").hidden = false;
    document.dispatchEvent(new Event("fleet-shown"));  // webhooks.js follows the sign-in
    scheduleRender();
  });
  stream.addEventListener("kiosk", (event) => {
    const k = JSON.parse(event.data);
    kiosks.set(`${k.store}/${k.kiosk}`, k);
    scheduleRender();
  });
  stream.addEventListener("store", (event) => {
    const s = JSON.parse(event.data);
    if (s.alerts.length > 0) storeAlerts.set(s.store, s.alerts);
    else storeAlerts.delete(s.store);
    scheduleRender();
  });
  stream.addEventListener("gone", (event) => {
    const k = JSON.parse(event.data);
    kiosks.delete(`${k.store}/${k.kiosk}`);
    scheduleRender();
  });
  stream.addEventListener("error", () => {
    setLive("down", "Reconnecting…");
    if (stream.readyState === EventSource.CLOSED) {
      // The browser gives up on an answer that is not a stream (401 after the session ended).
      setTimeout(start, 3000);
    }
  });
}

function showSignIn() {
  if (stream) stream.close();
  setLive("down", "Signed out");
  $("fleet").hidden = true;
  $("summary").hidden = true;
  $("signout").hidden = true;
  $("signin").hidden = false;
  document.dispatchEvent(new Event("fleet-hidden"));
  $("signin-key").focus();
}

async function start() {
  const response = await fetch("/fleet/api/kiosks").catch(() => null);
  if (response && (response.status === 401 || response.status === 403)) {
    showSignIn();
    if (response.status === 403) sayStoreKeyOnly();
    return;
  }
  $("signin").hidden = true;
  connect();
}

wireSignIn(start, showSignIn);
$("care-close").addEventListener("click", () => $("care").close());
$("filter").addEventListener("input", scheduleRender);
$("only-problems").addEventListener("change", scheduleRender);
setInterval(() => {
  for (const cell of document.querySelectorAll("td.last-seen")) cell.textContent = ago(cell.dataset.at);
}, 1000);
start();
