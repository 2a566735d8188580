// The auth profiles page: the list (account, plan, rate-limit use), an auth.json upload
// (read here, posted as JSON: its content is never shown), activate and delete. Every rule
// (idle, active, default) is the daemon's: the page shows its answers in the notice area.
import { api, attempt, notice } from "./api.js";
import { el } from "./dom.js";

const PROFILES = "/v1/auth/profiles";
const MODES = { apikey: "API key", apiKey: "API key", chatgpt: "ChatGPT", none: "none" };

function rateLimits(profile) {
  if (!profile.rate_limits.length) return profile.active ? "not reported yet" : "—";
  return profile.rate_limits.map((w) => `${w.window} ${w.used_percent}%`).join(", ");
}

export function profilesView() {
  const body = document.querySelector("#profiles tbody");
  const pendingLine = document.getElementById("profiles-pending");
  const whenIdle = document.getElementById("profile-when-idle");

  async function load() {
    const state = await api("GET", PROFILES);
    pendingLine.hidden = !state.pending && !state.last_error;
    pendingLine.textContent = state.pending
      ? `Switching to ${state.pending} once the running turns finish.`
      : state.last_error || "";
    body.replaceChildren(...state.profiles.map(row));
  }

  async function change(fn) {
    await attempt(async () => {
      const message = await fn();
      if (message) notice(message, "info");
    });
    await attempt(load);
  }

  function row(profile) {
    const name = el("td", { class: "profile-name" }, profile.name);
    if (profile.active) name.append(" ", el("span", { class: "state state-running", text: "active" }));
    if (profile.pending) name.append(" ", el("span", { class: "state state-queued", text: "pending" }));
    const activate = el("button", {
      type: "button",
      class: "activate",
      disabled: profile.active,
      text: "Activate",
      onclick: () => change(async () => {
        const mode = whenIdle.checked ? "when_idle" : "now";
        const path = `${PROFILES}/${encodeURIComponent(profile.name)}/activate`;
        return (await api("POST", path, { mode })).message;
      }),
    });
    const remove = el("button", {
      type: "button",
      class: "danger delete",
      text: "Delete",
      onclick: () => {
        if (!window.confirm(`Delete auth profile ${profile.name} and its auth.json?`)) return;
        change(async () => {
          await api("DELETE", `${PROFILES}/${encodeURIComponent(profile.name)}`);
          return `deleted auth profile ${profile.name}`;
        });
      },
    });
    return el(
      "tr",
      { "data-profile": profile.name },
      name,
      el("td", { text: MODES[profile.auth_mode] || profile.auth_mode }),
      el("td", { text: profile.email || "—" }),
      el("td", { text: profile.plan_type || "—" }),
      el("td", { class: "rate-limits", text: rateLimits(profile) }),
      el("td", { class: "profile-actions" }, activate, " ", remove),
    );
  }

  document.getElementById("profile-upload").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const file = document.getElementById("upload-file").files[0];
    const name = document.getElementById("upload-name").value.trim();
    const replace = document.getElementById("upload-replace").checked;
    if (!file) return;
    change(async () => {
      const text = await file.text();
      const profile = await api("POST", PROFILES, { name, auth_json: text, replace });
      form.reset();
      return `uploaded the auth.json of profile ${profile.name}`;
    });
  });
  attempt(load);
}
