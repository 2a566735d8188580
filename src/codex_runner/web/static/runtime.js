// The runtime page: the Codex process, the hosts, the counts by state and the warnings.
import { api, attempt } from "./api.js";
import { debounce, duration, el, stateBadge } from "./dom.js";
import { hostsPanel } from "./hosts.js";
import { follow } from "./live.js";

const STATE_ORDER = ["queued", "running", "awaiting_approval", "interrupted", "completed", "failed", "cancelled"];

// The chat server link's state (none unless [link] is configured); never its token.
function linkFacts(link) {
  if (!link) return [["state", "not configured ([link] in config.toml)"]];
  const when = (t) => (t ? new Date(t).toLocaleString() : "—");
  return [
    ["state", link.serving ? link.state : `${link.state} · instance stopped`],
    ["server", link.url],
    ["runner", link.runner_id],
    ["connected since", when(link.connected_since)],
    ["last heartbeat", when(link.last_heartbeat_at)],
    ["last acknowledged seq", `${link.last_acked_seq} of ${link.last_seq}`],
    ["last error", link.last_error || "none"],
  ];
}

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
    document.getElementById("link").replaceChildren(...linkFacts(status.link).flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { "data-link": k, text: v })]));
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
  hostsPanel();
}
