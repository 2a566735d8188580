// The logs page: a live tail of the runner's log or of one task's, from a level up. It
// polls GET /v1/logs with the cursor of the last answer, so no stream stays open and the
// tail carries on across the hour's new file; the filters live in the URL.
import { api, attempt } from "./api.js";
import { el, taskLink } from "./dom.js";

const POLL_MS = 2000;
const MAX_ROWS = 1000; // the oldest rows go first: a tab left open stays small

export function row(record) {
  const time = String(record.at || "").replace("T", " ").slice(0, 19);
  const message = el("td", { class: "message" }, String(record.message ?? ""));
  if (record.task_id) message.append(" ", taskLink(record.task_id));
  if (record.exception) message.append(el("pre", { text: record.exception }));
  return el(
    "tr",
    { class: `log-${record.level}`, "data-level": record.level },
    el("td", { class: "time", text: time }),
    el("td", { class: "level", text: record.level }),
    el("td", { class: "logger", text: record.logger || "event" }),
    message,
  );
}

function setLive(text, on) {
  const badge = document.getElementById("live");
  if (!badge) return;
  badge.hidden = false;
  badge.textContent = text;
  badge.className = on ? "live on" : "live off";
}

export function logsView() {
  const params = new URLSearchParams(window.location.search);
  const level = params.get("level") || "info";
  const task = params.get("task") || "";
  document.getElementById("log-level").value = level;
  document.getElementById("log-task").value = task;
  document.getElementById("log-source").textContent = task
    ? `Task ${task}: its events and the daemon's records about it.`
    : "The runner's log: every daemon record.";
  const body = document.querySelector("#log tbody");
  const pause = document.getElementById("log-pause");
  let cursor = null;
  let paused = false;
  let busy = false;
  pause.addEventListener("click", () => {
    paused = !paused;
    pause.textContent = paused ? "Resume" : "Pause";
    setLive(paused ? "paused" : "live", !paused);
  });

  async function poll() {
    if (paused || busy) return;
    busy = true;
    try {
      const query = new URLSearchParams({ level, limit: "200" });
      if (task) query.set("task", task);
      if (cursor) query.set("cursor", cursor);
      const answer = await api("GET", `/v1/logs?${query}`);
      setLive("live", true);
      if (answer.cursor) cursor = answer.cursor;
      const following = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
      body.append(...answer.records.map(row));
      while (body.rows.length > MAX_ROWS) body.deleteRow(0);
      if (following && answer.records.length) window.scrollTo(0, document.body.scrollHeight);
    } catch (error) {
      setLive("reconnecting…", false);
      throw error;
    } finally {
      busy = false;
    }
  }
  attempt(poll);
  setInterval(() => attempt(poll), POLL_MS);
}
