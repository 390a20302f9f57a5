// The dashboard's "Enrol a kiosk" form: the code a new kiosk shows, the store and the id it
// takes, sent to /fleet/api/enrolments; the kiosk then collects its own broker login. Builds
// on page.js's $ and dashboard.js's toast and showSignIn; every string goes in as text.
"use strict";

const ENROL_ERRORS = {
  unknown_code: "No kiosk shows that code: read it again off its screen.",
  code_expired: "That code has expired: restart the kiosk's enrolment for a new one.",
  already_approved: "That code was approved already.",
  other_store: "Your key is another store's: you can enrol your store's kiosks only.",
};

async function approveEnrolment(event) {
  event.preventDefault();
  const form = event.target;
  const button = form.querySelector("button[type=submit]");
  const said = $("enrol-result");
  const body = { code: form.code.value.trim(), store: form.store.value.trim(), kiosk: form.kiosk.value.trim() };
  button.disabled = true;
  try {
    const response = await fetch("/fleet/api/enrolments", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    const answer = await response.json().catch(() => ({}));
    if (response.status === 401) return showSignIn();
    if (response.status === 404 && answer.error !== "unknown_code") {
      throw new Error("This HQ does not enrol kiosks: it runs without --enrol-broker.");
    }
    if (!response.ok) throw new Error(ENROL_ERRORS[answer.error] || answer.detail || response.statusText);
    said.className = "enrol-result ok";
    said.textContent = `Approved: the kiosk joins as ${answer.store} · ${answer.kiosk} within seconds.`;
    toast(`Kiosk ${answer.store} · ${answer.kiosk} enrolled`);
    form.reset();
  } catch (error) {
    said.className = "enrol-result failed";
    said.textContent = error.message;
  } finally {
    said.hidden = false;
    button.disabled = false;
  }
}

$("enrol-form").addEventListener("submit", approveEnrolment);
document.addEventListener("fleet-shown", () => { $("enrol").hidden = false; });
document.addEventListener("fleet-hidden", () => { $("enrol").hidden = true; });
