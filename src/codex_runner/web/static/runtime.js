// The runtime page: the Codex process, the counts by state and the warnings.
import { api, attempt } from "./api.js";
import { debounce, duration, el, stateBadge } from "./dom.js";
import { follow } from "./live.js";

const STATE_ORDER = ["queued", "running", "awaiting_approval", "interrupted", "completed", "failed", "cancelled"];

export function runtimeView() {
  async function load() {
    const status = await api("GET", "/v1/status");
    const r = status.runtime;
    const facts = [
      ["codex-runner", status.version],
      ["Codex version", r.codex_version || "unknown"],
      ["runtime", `${r.kind} · ${r.state}`],
      ["pid", r.pid ?? "—"],
      ["uptime", duration(r.uptime_s)],
      ["restarts", r.restarts],
      ["running", `${status.active.length} active, at most ${status.max_concurrent} at once`],
      ["last error", r.last_error || "none"],
    ];
    document.getElementById("runtime").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { "data-fact": k, text: v })]));
    const counts = STATE_ORDER.map((state) => el("tr", {}, el("td", {}, stateBadge(state)), el("td", { class: "num", text: status.counts[state] || 0 })));
    document.querySelector("#counts tbody").replaceChildren(...counts);
    const warnings = r.warnings.length ? r.warnings.map((w) => el("li", { text: w })) : [el("li", { class: "muted", text: "none" })];
    document.getElementById("warnings").replaceChildren(...warnings);
  }
  const reload = debounce(() => attempt(load), 300);
  follow("/admin/feed", (event) => {
    if (event.type.startsWith("task.") || event.type === "codex.warning") reload();
  }, reload);
  setInterval(() => attempt(load), 5000); // uptime
}
