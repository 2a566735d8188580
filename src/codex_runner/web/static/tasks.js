// The tasks page: the list with its state filters and pages, and the submit form.
import { api, attempt } from "./api.js";
import { refreshApprovalCount } from "./approvals.js";
import { age, debounce, el, stateBadge, taskLink } from "./dom.js";
import { follow } from "./live.js";

const body = document.body;

export function tasksView() {
  const pageSize = Number(body.dataset.pageSize) || 50;
  let filter = "";
  let offset = 0;
  const tbody = document.querySelector("#tasks tbody");

  function row(task) {
    const where = task.repo || task.cwd || "";
    return el(
      "tr",
      { "data-task-id": task.id, "data-state": task.state },
      el("td", {}, taskLink(task.id)),
      el("td", {}, stateBadge(task.state)),
      el("td", { class: "num", text: task.priority }),
      el("td", { class: "where" }, where, task.branch ? el("div", { class: "muted", text: task.branch }) : null),
      el("td", { title: task.created_at, text: age(task.created_at) }),
      el("td", { class: "num", text: task.usage.total_tokens }),
      el("td", { class: "prompt", title: task.prompt, text: task.prompt.slice(0, 100) }),
    );
  }

  async function load() {
    const params = new URLSearchParams({ limit: String(pageSize + 1), offset: String(offset) });
    if (filter) params.append("state", filter);
    const [list, status] = await Promise.all([
      api("GET", `/v1/tasks?${params}`),
      api("GET", "/v1/status"),
    ]);
    const shown = list.tasks.slice(0, pageSize);
    tbody.replaceChildren(...shown.map(row));
    if (!shown.length) {
      tbody.append(el("tr", {}, el("td", { colspan: 7, class: "muted", text: "No tasks." })));
    }
    let total = 0;
    for (const [state, n] of Object.entries(status.counts)) {
      total += n;
      const count = document.querySelector(`[data-count="${state}"]`);
      if (count) count.textContent = String(n);
    }
    document.querySelector('[data-count=""]').textContent = String(total);
    const of = filter ? status.counts[filter] : total;
    document.getElementById("page-info").textContent = shown.length
      ? `${offset + 1}-${offset + shown.length} of ${of}`
      : "";
    document.getElementById("prev").disabled = offset === 0;
    document.getElementById("next").disabled = list.tasks.length <= pageSize;
  }
  const reload = debounce(() => attempt(load), 250);

  for (const button of document.querySelectorAll("#filters .filter")) {
    button.addEventListener("click", () => {
      filter = button.dataset.state;
      offset = 0;
      for (const b of document.querySelectorAll("#filters .filter")) b.classList.toggle("active", b === button);
      attempt(load);
    });
  }
  document.getElementById("prev").addEventListener("click", () => {
    offset = Math.max(0, offset - pageSize);
    attempt(load);
  });
  document.getElementById("next").addEventListener("click", () => {
    offset += pageSize;
    attempt(load);
  });
  document.getElementById("submit-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const value = (name) => form.elements[name].value.trim();
    const payload = { prompt: form.elements.prompt.value, priority: Number(value("priority") || 0) };
    payload[value("where_kind")] = value("where");
    for (const name of ["model", "sandbox", "approval_policy"]) if (value(name)) payload[name] = value(name);
    const task = await attempt(() => api("POST", "/v1/tasks", payload));
    if (task) window.location.assign(`/admin/tasks/${encodeURIComponent(task.id)}`);
  });
  follow(
    "/admin/feed",
    (event) => {
      if (event.type.startsWith("task.") || event.type === "codex.token_usage.updated") reload();
      if (event.type.startsWith("approval.")) attempt(refreshApprovalCount);
    },
    () => {
      attempt(load);
      attempt(refreshApprovalCount);
    },
  );
}
