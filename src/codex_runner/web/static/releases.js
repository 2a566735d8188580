// The Codex releases page: the list with current/previous/failed marks, installs followed
// live (the job is polled until it ends), use and roll back, and the switch records. Every
// rule (running turns, the readiness check, switching back) is the daemon's: the page shows
// its answers in the notice area.
import { api, attempt, notice } from "./api.js";
import { el } from "./dom.js";

const RELEASES = "/v1/codex/releases";
const POLL_MS = 1000;

export function releasesView() {
  const body = document.querySelector("#releases tbody");
  const switches = document.querySelector("#switches tbody");
  const stateLine = document.getElementById("releases-state");
  const progress = document.getElementById("install-progress");
  const whenIdle = document.getElementById("release-when-idle");
  const allowActive = document.getElementById("release-allow-active");
  const rollback = document.getElementById("release-rollback");

  async function load() {
    const state = await api("GET", RELEASES);
    const lines = [];
    if (state.not_switchable) lines.push(`Switching is off: ${state.not_switchable}`);
    if (state.pending) lines.push(`Switching to ${state.pending} once the running turns finish.`);
    stateLine.hidden = !lines.length;
    stateLine.textContent = lines.join(" ");
    rollback.disabled = !state.previous || Boolean(state.not_switchable);
    body.replaceChildren(...state.releases.map((r) => row(r, state)));
    switches.replaceChildren(...state.switches.map(record));
  }

  function switchOptions() {
    return { allow_active: allowActive.checked, when_idle: whenIdle.checked };
  }

  async function switched(fn) {
    await attempt(async () => {
      const result = await fn();
      if (result.pending) notice(`switching to ${result.pending} once the running turns finish`, "info");
      else if (result.switch) notice(result.switch.message, result.switch.result === "switched" ? "info" : "error");
    });
    await attempt(load);
  }

  function row(release, state) {
    const marks = el("td", { class: "marks" });
    for (const [mark, on, cls] of [["current", release.current, "state-running"], ["previous", release.previous, "state-queued"], ["failed", release.failed, "state-failed"]]) {
      if (on) marks.append(el("span", { class: `state ${cls}`, text: mark }), " ");
    }
    const use = el("button", {
      type: "button",
      class: "use",
      disabled: release.current || Boolean(state.not_switchable),
      text: "Use",
      onclick: () => switched(() => api("POST", "/v1/codex/use", { version: release.name, ...switchOptions() })),
    });
    return el(
      "tr",
      { "data-release": release.name },
      el("td", { class: "release-name", text: release.name }),
      el("td", { text: release.version }),
      marks,
      el("td", { class: "binary muted", text: release.binary }),
      el("td", { class: "actions" }, use),
    );
  }

  function record(r) {
    const check = el("details", {}, el("summary", { text: `${r.check.length} line(s)` }), el("pre", { text: r.check.join("\n") }));
    return el(
      "tr",
      {},
      el("td", { text: r.at }),
      el("td", { text: r.who }),
      el("td", { text: r.action }),
      el("td", { text: r.from_release }),
      el("td", { text: r.to_release }),
      el("td", { class: `result result-${r.result}`, text: r.result }),
      el("td", {}, r.check.length ? check : ""),
    );
  }

  async function follow(job) {
    progress.hidden = false;
    while (job.state === "running") {
      progress.textContent = job.lines.join("\n");
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      job = await api("GET", `${RELEASES}/jobs/${encodeURIComponent(job.id)}`);
    }
    progress.textContent = job.lines.join("\n");
    if (job.state === "succeeded") notice(`installed Codex ${job.version}`, "info");
    else notice(job.error || `the install of ${job.version} failed`, "error");
  }

  rollback.addEventListener("click", () => switched(() => api("POST", "/v1/codex/rollback", switchOptions())));
  document.getElementById("release-install").addEventListener("submit", (event) => {
    event.preventDefault();
    const version = document.getElementById("install-version").value.trim();
    if (!version) return;
    attempt(async () => {
      await follow(await api("POST", RELEASES, { version }));
      await load();
    });
  });
  attempt(load);
}
