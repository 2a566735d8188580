// The tasks page: the list with its state, purpose and metadata filters (kept in the URL)
// and pages,
// and the submit form with its collapsed Codex options.
import { api, attempt } from "./api.js";
import { refreshApprovalCount } from "./approvals.js";
import { age, debounce, el, hostLabel, purposeLabel, stateBadge, taskLink } from "./dom.js";
import { follow } from "./live.js";
import { jsonField, metadataField, sendForm, textFields } from "./options_form.js";

const body = document.body;
const SETTINGS = ["model", "effort", "sandbox", "approval_policy"];
const OPTIONS = ["developer_instructions", "base_instructions", "personality", "service_tier", "model_provider", "runtime", "summary", "purpose"];

// The task's body from the submit form; empty fields are left out.
function submission(form) {
  const value = (name) => form.elements[name].value.trim();
  const payload = { prompt: form.elements.prompt.value, priority: Number(value("priority") || 0) };
  payload[value("where_kind")] = value("where");
  Object.assign(payload, textFields(form, [...SETTINGS, ...OPTIONS]));
  // Instructions are sent as typed (their spacing may matter), when not blank.
  for (const name of ["developer_instructions", "base_instructions"]) {
    if (payload[name]) payload[name] = form.elements[name].value;
  }
  if (form.elements.ephemeral.checked) payload.ephemeral = true;
  const metadata = metadataField(form, "metadata");
  if (metadata) payload.metadata = metadata;
  for (const name of ["output_schema", "config"]) {
    const parsed = jsonField(form, name);
    if (parsed) payload[name] = parsed;
  }
  return payload;
}

export function tasksView() {
  const pageSize = Number(body.dataset.pageSize) || 50;
  const query = new URLSearchParams(window.location.search);
  let filter = query.get("state") || "";
  let purpose = query.get("purpose") || "";
  // metadata.KEY=VALUE pairs, from a link on a task's metadata; each shown, and removable.
  let metadata = [...query].filter(([key]) => key.startsWith("metadata."));
  let offset = 0;
  const tbody = document.querySelector("#tasks tbody");
  const purposeInput = document.getElementById("purpose-filter");
  purposeInput.value = purpose;

  // The filters live in the URL, so a reload or a shared link shows the same list.
  function keepInUrl() {
    const params = new URLSearchParams();
    if (filter) params.set("state", filter);
    if (purpose) params.set("purpose", purpose);
    for (const [key, value] of metadata) params.append(key, value);
    const search = params.toString();
    window.history.replaceState(null, "", `${window.location.pathname}${search ? `?${search}` : ""}`);
  }

  function showMetadataFilters() {
    const chips = metadata.map(([key, value]) =>
      el("button", {
        type: "button",
        class: "metadata-filter",
        title: "remove this filter",
        "data-metadata": key.slice("metadata.".length),
        text: `${key.slice("metadata.".length)}=${value} ×`,
        onclick: () => {
          metadata = metadata.filter(([k, v]) => k !== key || v !== value);
          offset = 0;
          keepInUrl();
          showMetadataFilters();
          attempt(load);
        },
      }),
    );
    document.getElementById("metadata-filters").replaceChildren(...chips);
  }

  function showFilter() {
    for (const b of document.querySelectorAll("#filters .filter")) b.classList.toggle("active", b.dataset.state === filter);
  }

  function row(task) {
    const where = task.repo || task.cwd || "";
    return el(
      "tr",
      { "data-task-id": task.id, "data-state": task.state },
      el("td", {}, taskLink(task.id), task.purpose ? [" ", purposeLabel(task.purpose)] : null),
      el("td", {}, stateBadge(task.state), task.host_id ? [" ", hostLabel(task.host_id)] : null),
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
    if (purpose) params.append("purpose", purpose);
    for (const [key, value] of metadata) params.append(key, value);
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
    // The counts are of every task: with a purpose or metadata filter, no total is known.
    const of = purpose || metadata.length ? "" : ` of ${filter ? status.counts[filter] : total}`;
    document.getElementById("page-info").textContent = shown.length
      ? `${offset + 1}-${offset + shown.length}${of}`
      : "";
    document.getElementById("prev").disabled = offset === 0;
    document.getElementById("next").disabled = list.tasks.length <= pageSize;
  }
  const reload = debounce(() => attempt(load), 250);

  for (const button of document.querySelectorAll("#filters .filter")) {
    button.addEventListener("click", () => {
      filter = button.dataset.state;
      offset = 0;
      showFilter();
  showMetadataFilters();
      keepInUrl();
      attempt(load);
    });
  }
  showFilter();
  showMetadataFilters();
  document.getElementById("purpose-form").addEventListener("submit", (event) => {
    event.preventDefault();
    purpose = purposeInput.value.trim();
    offset = 0;
    keepInUrl();
    attempt(load);
  });
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
    const task = await sendForm(form, () => submission(form), (payload) => api("POST", "/v1/tasks", payload));
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
