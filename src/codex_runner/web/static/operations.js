// The Operations page: the server drew the runtime, bridges, approvals and disk; this
// follows the runner's log from a chosen level up, polling GET /v1/logs (as the Logs page
// does) and keeping its last 200 records.
import { api, attempt } from "./api.js";
import { row as logRow } from "./logs.js";

const POLL_MS = 2000;
const MAX_ROWS = 200;

export function operationsView() {
  const select = document.getElementById("ops-log-level");
  const body = document.querySelector("#ops-log tbody");
  select.value = "info";
  let cursor = null;
  let busy = false;
  let generation = 0; // bumped when the level changes: answers to an older ask are dropped

  async function poll() {
    if (busy) return;
    busy = true;
    const asked = generation;
    try {
      const query = new URLSearchParams({ level: select.value, limit: String(MAX_ROWS) });
      if (cursor) query.set("cursor", cursor);
      const answer = await api("GET", `/v1/logs?${query}`);
      if (asked !== generation) return;
      if (answer.cursor) cursor = answer.cursor;
      body.append(...answer.records.map(logRow));
      while (body.rows.length > MAX_ROWS) body.deleteRow(0);
    } finally {
      busy = false;
      if (asked !== generation) attempt(poll); // ask again at the new level now
    }
  }

  select.addEventListener("change", () => {
    generation += 1;
    cursor = null;
    body.replaceChildren();
    attempt(poll);
  });
  attempt(poll);
  setInterval(() => attempt(poll), POLL_MS);
}
