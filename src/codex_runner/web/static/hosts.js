// The runtime page's hosts panel: every host sharing the store (one with SQLite, several on
// one PostgreSQL), its state, heartbeat and load, and draining or reopening one. What
// "live", "draining" and "dead" mean is the service's; the panel only names them.
import { api, attempt } from "./api.js";
import { el } from "./dom.js";

const REFRESH_MS = 3000;

// Dead first, as `codex-runner hosts` says it: a host taken over is dead, drained or not.
export const hostState = (host) => (host.dead_at ? "dead" : host.draining ? "draining" : "live");

function heartbeatAge(seconds) {
  if (seconds < 60) return `${seconds.toFixed(1)} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  return `${Math.floor(seconds / 3600)} h ago`;
}

// Drain (it claims no new work, its running tasks go on) or undrain, once confirmed.
function drainButton(host, show) {
  if (host.dead_at) return null;
  const undo = host.draining;
  const question = undo
    ? `Undrain host ${host.id}? It claims new work again.`
    : `Drain host ${host.id}? It claims no new work; its running tasks go on.`;
  return el("button", {
    type: "button",
    class: "drain",
    "data-host-action": undo ? "undrain" : "drain",
    text: undo ? "Undrain" : "Drain",
    onclick: async (event) => {
      if (!window.confirm(question)) return;
      event.target.disabled = true;
      const path = `/v1/hosts/${encodeURIComponent(host.id)}/drain${undo ? "?undo=true" : ""}`;
      const listed = await attempt(() => api("POST", path));
      if (listed) show(listed.hosts);
      else event.target.disabled = false;
    },
  });
}

function hostRow(host, show) {
  const state = hostState(host);
  return el(
    "tr",
    { "data-host-id": host.id, "data-host-state": state },
    el("td", {}, el("code", { text: host.id }), host.this_host ? [" ", el("span", { class: "label this-host", text: "this host" })] : null),
    el("td", {}, el("span", { class: `state host-${state}`, text: state })),
    el("td", { class: "num", title: host.heartbeat_at, text: heartbeatAge(host.heartbeat_age_s) }),
    el("td", { class: "num", "data-host-running": "", text: host.running }),
    el("td", { class: "num", text: host.capacity }),
    el("td", { text: host.version }),
    el("td", { text: host.hostname }),
    el("td", {}, drainButton(host, show)),
  );
}

export function hostsPanel() {
  const tbody = document.querySelector("#hosts tbody");
  function show(hosts) {
    const rows = hosts.map((host) => hostRow(host, show));
    tbody.replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 8, class: "muted", text: "No hosts." }))]));
  }
  const load = async () => show((await api("GET", "/v1/hosts")).hosts);
  attempt(load);
  // Heartbeats age and other hosts come and go without an event on this host's feed.
  setInterval(() => attempt(load), REFRESH_MS);
}
