// The store staff page: sign in with the store's key or a staff badge, then the store's open
// requests from /staff/api/<store>/stream (Server-Sent Events), oldest first, each with the
// buttons that move it on. Every string from HQ goes into the page as text, never as HTML.
"use strict";

const T = JSON.parse(document.getElementById("texts").textContent);
const $ = (id) => document.getElementById(id);
let stream = null;
let store = null;
let clockSkewMs = 0;  // HQ's clock minus this device's, so waiting times are HQ's
let requests = [];

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name === "dataset") Object.assign(node.dataset, value);
    else if (name in node) node[name] = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function fill(text, fields) {
  return text.replace(/\{(\w+)\}/g, (_, name) => String(fields[name]));
}

let toastTimer = null;

// One note at a time, so none covers the list for long.
function toast(text, failed = false) {
  clearTimeout(toastTimer);
  $("toasts").replaceChildren(el("div", { className: failed ? "toast failed" : "toast", role: "status" }, text));
  toastTimer = setTimeout(() => $("toasts").replaceChildren(), 4000);
}

function setLive(state) {
  $("live").hidden = false;
  $("live").dataset.live = state;
  $("live").textContent = T[state === "live" ? "live" : state === "connecting" ? "connecting" : "reconnecting"];
}

function minutesSince(createdAt) {
  return Math.floor((Date.now() + clockSkewMs - Date.parse(createdAt)) / 60000);
}

function waited(createdAt) {
  const minutes = minutesSince(createdAt);
  if (minutes < 1) return T.waiting_now;
  if (minutes < 60) return fill(T.waiting_minutes, { minutes });
  return fill(T.waiting_hours, { hours: Math.floor(minutes / 60), minutes: minutes % 60 });
}

async function act(request, action, button, body) {
  button.disabled = true;
  try {
    const response = await fetch(
      `/staff/api/${encodeURIComponent(store)}/requests/${encodeURIComponent(request.id)}/${action}?lang=${T.lang}`,
      { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body || {}) },
    );
    const answer = await response.json().catch(() => ({}));
    if (response.status === 401) return showSignIn();
    if (response.status === 409 && answer.error === "reservation_closed") return toast(T.gone, true);
    if (!response.ok) throw new Error(typeof answer.detail === "string" ? answer.detail : response.statusText);
    toast(fill(T[`done_${action}`], { product: request.product }));
  } catch (error) {
    toast(fill(T.failed, { detail: error.message }), true);
  } finally {
    button.disabled = false;
  }
}

function requestCard(r) {
  const size = r.size === T.one_size_code ? T.one_size : fill(T.size, { size: r.size });
  const label = `${r.product}, ${size}`;
  const photo = r.image ? el("img", { src: `/staff/${r.image}`, alt: "", width: 88, height: 88 }) : "";
  const card = el("li", { className: "request", dataset: { id: r.id, state: r.state, sku: r.sku } },
    el("div", { className: "what" }, photo,
      el("div", { className: "what-text" },
        el("span", { className: "product" }, r.product),
        el("span", { className: "size" }, size))),
    el("div", { className: "facts" },
      el("span", { className: "chip state" }, T[`state_${r.state}`]),
      el("span", { className: "chip kind" }, T[`kind_${r.kind}`]),
      el("span", { className: "chip kiosk" }, r.kiosk ? fill(T.at_kiosk, { kiosk: r.kiosk }) : T.online)),
    el("p", { className: "waiting", dataset: { created: r.created_at } }, waited(r.created_at)));
  card.classList.toggle("late", r.state === "held" && minutesSince(r.created_at) >= T.alert_minutes);
  if (r.note) card.append(el("p", { className: "ready-note" }, r.note));
  const actions = el("div", { className: "actions" });
  if (r.state === "held") {
    const take = el("button", { type: "button", className: "button", textContent: T.take,
                                "aria-label": `${T.take}: ${label}` });
    take.addEventListener("click", () => act(r, "take", take));
    actions.append(take);
  }
  if (r.state === "taken") {
    const noteId = `note-${r.id}`;
    const note = el("input", { id: noteId, className: "note-input", type: "text", maxLength: 100,
                               placeholder: T.note_hint, autocomplete: "off" });
    const ready = el("button", { type: "button", className: "button", textContent: T.ready,
                                 "aria-label": `${T.ready}: ${label}` });
    ready.addEventListener("click", () => act(r, "ready", ready, note.value.trim() ? { note: note.value.trim() } : {}));
    actions.append(el("label", { className: "note-label", htmlFor: noteId }, T.note), note, ready);
  }
  const cancel = el("button", { type: "button", className: "button danger", textContent: T.cancel,
                                "aria-label": `${T.cancel}: ${label}` });
  let armed = null;  // a second tap within a few seconds cancels: one stray tap never does
  cancel.addEventListener("click", () => {
    if (armed) {
      clearTimeout(armed);
      armed = null;
      act(r, "cancel", cancel);
      return;
    }
    cancel.classList.add("confirming");
    cancel.textContent = T.cancel_confirm;
    armed = setTimeout(() => {
      armed = null;
      cancel.classList.remove("confirming");
      cancel.textContent = T.cancel;
    }, 4000);
  });
  actions.append(cancel);
  card.append(actions);
  return card;
}

function render() {
  // A note being typed survives a redraw of the list.
  const typing = {};
  for (const input of document.querySelectorAll(".note-input")) {
    if (input.value) typing[input.id] = input.value;
  }
  const focused = document.activeElement && document.activeElement.id;
  $("list").replaceChildren(...requests.map(requestCard));
  for (const [id, value] of Object.entries(typing)) if ($(id)) $(id).value = value;
  if (focused && $(focused)) $(focused).focus();
  $("empty").hidden = requests.length > 0;
  $("count").textContent = requests.length === 1 ? T.count_one : fill(T.count_many, { count: requests.length });
}

function connect() {
  if (stream) stream.close();
  setLive("connecting");
  stream = new EventSource(`/staff/api/${encodeURIComponent(store)}/stream?lang=${T.lang}`);
  stream.addEventListener("requests", (event) => {
    const listing = JSON.parse(event.data);
    clockSkewMs = Date.parse(listing.generated_at) - Date.now();
    requests = listing.requests;
    setLive("live");
    render();
  });
  stream.addEventListener("signed_out", () => showSignIn());
  stream.addEventListener("error", () => {
    setLive("down");
    if (stream.readyState === EventSource.CLOSED) setTimeout(start, 3000);  // 401 once the session ended
  });
}

function showSignIn() {
  if (stream) stream.close();
  stream = null;
  $("requests").hidden = true;
  $("live").hidden = true;
  $("place").textContent = "";
  $("signin").hidden = false;
}

async function start() {
  const response = await fetch("/staff/api/session").catch(() => null);
  if (!response || !response.ok) return showSignIn();
  const session = await response.json();
  store = session.store;
  $("place").textContent = session.store_name;
  $("signin").hidden = true;
  $("requests").hidden = false;
  connect();
}

async function signIn(credential) {
  const body = { credential };
  if ($("store").value) body.store = $("store").value;
  const response = await fetch("/staff/session", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  }).catch(() => null);
  const answer = response && !response.ok ? await response.json().catch(() => ({})) : {};
  const error = $("signin-error");
  error.hidden = Boolean(response && response.ok);
  if (response && response.ok) {
    $("credential").value = "";
    return start();
  }
  error.textContent = T[`refused_${answer.error}`] || T.refused_other;
}

$("signin-form").addEventListener("submit", (event) => {
  event.preventDefault();
  signIn($("credential").value.trim());
});

// On a phone that reads NFC (Chrome on Android, over HTTPS), the badge itself signs in:
// its tag carries the same signed code in a record of the badge's own type.
const BADGE_MIME = "application/vnd.nfckiosk.badge";

function wireBadgeTap() {
  if (!("NDEFReader" in window)) return;
  const button = $("badge-tap");
  button.hidden = false;
  button.addEventListener("click", async () => {
    const reader = new NDEFReader();
    const stop = new AbortController();
    const error = $("signin-error");
    try {
      await reader.scan({ signal: stop.signal });
    } catch (failure) {
      error.hidden = false;
      error.textContent = T.badge_unavailable;
      return;
    }
    error.hidden = true;
    $("badge-hint").hidden = false;
    reader.addEventListener("reading", (event) => {
      const badge = event.message.records.find((r) => r.recordType === "mime" && r.mediaType === BADGE_MIME);
      if (!badge) {
        error.hidden = false;
        error.textContent = T.badge_not_badge;
        return;
      }
      stop.abort();
      $("badge-hint").hidden = true;
      signIn(new TextDecoder().decode(badge.data).trim());
    });
  });
}

wireBadgeTap();

$("signout").addEventListener("click", async () => {
  await fetch("/staff/session", { method: "DELETE" }).catch(() => null);
  showSignIn();
});

setInterval(() => {
  for (const line of document.querySelectorAll(".waiting")) line.textContent = waited(line.dataset.created);
  for (const card of document.querySelectorAll(".request[data-state='held']")) {
    card.classList.toggle("late", minutesSince(card.querySelector(".waiting").dataset.created) >= T.alert_minutes);
  }
}, 20000);
start();
