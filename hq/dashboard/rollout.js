// The dashboard's software rollout panel: the unfinished (else the last) rollout from
// /fleet/api/rollout every few seconds while the fleet is shown: its release, its stages with
// the current one marked, how many of the stage's kiosks run the release, failed or wait,
// why it halted, and, to HQ's staff only (may_command), its halt and resume buttons. Builds on
// page.js's $ and el and dashboard.js's toast and showSignIn; every string goes in as text.
"use strict";

const ROLLOUT_EVERY_MS = 5000;
const STATE_NAMES = { running: "Running", halted: "Halted", done: "Finished" };
let rolloutTimer = null;

function stageNames(rollout) {
  return [["canary", `Canary (${rollout.canary.length || "their"} kiosk${rollout.canary.length === 1 ? "" : "s"})`],
    ["percent", `${rollout.percent}% of each store`], ["all", "Every kiosk"], ["done", "Done"]];
}

function renderRollout(answer) {
  const rollout = answer.rollout;
  const panel = $("rollout");
  panel.hidden = rollout === null;
  if (rollout === null) return;
  panel.className = `rollout ${rollout.state}`;
  $("rollout-release").textContent = `Release ${rollout.release} · ${rollout.label}`;
  const state = $("rollout-state");
  state.className = `pill ${rollout.state}`;
  state.textContent = rollout.state === "done" && rollout.stage !== "done" ? "Abandoned" : STATE_NAMES[rollout.state];
  $("rollout-reason").hidden = rollout.state !== "halted" || !rollout.halted_reason;
  $("rollout-reason").textContent = rollout.halted_reason ? `Halted: ${rollout.halted_reason}` : "";
  const stages = stageNames(rollout);
  const at = stages.findIndex(([stage]) => stage === rollout.stage);
  $("rollout-stages").replaceChildren(...stages.map(([stage, name], index) => el("li", {
    className: index < at || rollout.stage === "done" ? "passed" : index === at ? "current" : "",
    dataset: { stage }, "aria-current": index === at ? "step" : "false",
  }, name)));
  const c = rollout.counts;
  const share = (n) => `${c.targets ? (100 * n) / c.targets : 0}%`;
  $("rollout-bar-on").style.width = share(c.on_release);
  $("rollout-bar-failed").style.width = share(c.failed);
  const counts = [el("strong", {}, `${c.on_release} of ${c.targets}`), " kiosks of this stage run it"];
  if (c.failed) counts.push(" · ", el("span", { className: "failed" }, `${c.failed} switched back`));
  if (c.waiting) counts.push(` · ${c.waiting} waiting`);
  $("rollout-counts").replaceChildren(...counts);
  const waiting = rollout.targets.filter((t) => t.state === "waiting");
  $("rollout-waiting").hidden = waiting.length === 0 || rollout.state === "done";
  $("rollout-waiting").textContent = `Waiting for: ${waiting.slice(0, 8).map((t) => `${t.store}/${t.kiosk}`).join(", ")}`
    + (waiting.length > 8 ? ` and ${waiting.length - 8} more` : "");
  $("rollout-left-out").hidden = rollout.left_out.length === 0 || rollout.state === "done";
  $("rollout-left-out").textContent = `Left out after switching back: ${rollout.left_out.join(", ")}`
    + (rollout.state === "halted" ? ". Resuming goes on without them; while halted no kiosk is sent "
      + `release ${rollout.release}, and those not on it were told it is not wanted.` : ".");
  $("rollout-halt").hidden = !answer.may_command || rollout.state !== "running";
  $("rollout-resume").hidden = !answer.may_command || rollout.state !== "halted";
}

async function refreshRollout() {
  if (document.hidden) return;
  const response = await fetch("/fleet/api/rollout").catch(() => null);
  if (!response || !response.ok) return;  // a sign-out shows on the fleet's side
  renderRollout(await response.json());
}

async function commandRollout(verb, button) {
  button.disabled = true;
  try {
    const response = await fetch(`/fleet/api/rollout/${verb}`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: verb === "halt" ? "{}" : undefined,
    });
    const body = await response.json().catch(() => ({}));
    if (response.status === 401) return showSignIn();
    if (!response.ok) throw new Error(body.detail || response.statusText);
    renderRollout(body);
    toast(verb === "halt" ? "Rollout halted: kiosks not on the release are told it is not wanted"
      : "Rollout resumed");
  } catch (error) {
    toast(`Could not ${verb} the rollout: ${error.message}`, true);
  } finally {
    button.disabled = false;
  }
}

$("rollout-halt").addEventListener("click", (event) => commandRollout("halt", event.currentTarget));
$("rollout-resume").addEventListener("click", (event) => commandRollout("resume", event.currentTarget));
document.addEventListener("fleet-shown", () => {
  refreshRollout();
  if (rolloutTimer === null) rolloutTimer = setInterval(refreshRollout, ROLLOUT_EVERY_MS);
});
document.addEventListener("fleet-hidden", () => {
  clearInterval(rolloutTimer);
  rolloutTimer = null;
  $("rollout").hidden = true;
});
