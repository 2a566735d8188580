// The co-authors page: the map is drawn on the server; saving, deleting and adding go
// through /v1/coauthors, whose answer (a malformed author: what is wrong and the form to
// use) shows in the notice area. After a change the page is drawn again.
import { api, attempt } from "./api.js";

const COAUTHORS = "/v1/coauthors";
const entryPath = (bridge, user) =>
  `${COAUTHORS}/${encodeURIComponent(bridge)}/${encodeURIComponent(user)}`;

async function change(fn) {
  const done = await attempt(async () => {
    await fn();
    return true;
  });
  if (done) window.location.reload();
}

export function coauthorsView() {
  for (const row of document.querySelectorAll("#coauthors tbody tr[data-user]")) {
    const path = entryPath(row.dataset.bridge, row.dataset.user);
    const author = row.querySelector("input.author");
    row.querySelector("button.save").addEventListener("click", () =>
      change(() => api("PUT", path, { author: author.value })),
    );
    row.querySelector("button.delete").addEventListener("click", () => {
      if (!window.confirm(`Stop crediting ${row.dataset.user} in commits?`)) return;
      change(() => api("DELETE", path));
    });
  }
  document.getElementById("coauthor-add").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = (id) => document.getElementById(id).value.trim();
    const path = entryPath(value("add-bridge"), value("add-user"));
    change(() => api("PUT", path, { author: value("add-author"), display_name: value("add-name") }));
  });
}
