// What every dashboard page shares: building its DOM, where strings go in as text (``el``
// sets properties such as textContent, never innerHTML, so nothing a kiosk or an operator
// typed is ever parsed as HTML), and its sign-in with a fleet key.
"use strict";

const $ = (id) => document.getElementById(id);

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

function storeTitle(id) {
  return id.split("-").map((word) => word.charAt(0).toUpperCase() + word.slice(1)).join(" ");
}

// The sign-in form and the sign-out button of every page: a fleet key in, HQ's session cookie back.
// The page's own refusal (its sign-in error's text in the HTML) names the keys it takes.
function wireSignIn(onSignedIn, onSignedOut) {
  const refused = $("signin-error").textContent;
  $("signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const response = await fetch("/fleet/session", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ key: $("signin-key").value }),
    });
    $("signin-error").textContent = response.status === 429
      ? "Too many wrong keys from here: wait a minute and try again." : refused;
    $("signin-error").hidden = response.ok;
    if (response.ok) {
      $("signin-key").value = "";
      onSignedIn();
    }
  });
  // HQ revokes the session for every HQ process, so the cookie is no key to the fleet any more.
  $("signout").addEventListener("click", async () => {
    await fetch("/fleet/session", { method: "DELETE" }).catch(() => null);
    onSignedOut();
  });
}

// A store's key signs in too, for its store's kiosks and analytics; the fleet-wide pages refuse its session (403).
function sayStoreKeyOnly() {
  $("signin-error").replaceChildren("That key sees one store's ", el("a", { href: "/fleet/" }, "kiosks"), " and ",
    el("a", { href: "/fleet/analytics" }, "analytics"), " only, not the whole fleet's.");
  $("signin-error").hidden = false;
}
