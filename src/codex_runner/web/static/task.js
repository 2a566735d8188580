// The task page: its facts, result, turns, diff, approvals and timeline, and the actions its
// state allows.
import { api, attempt, notice } from "./api.js";
import { approvalCard, refreshApprovalCount } from "./approvals.js";
import { debounce, diffBlock, el, stateBadge } from "./dom.js";
import { follow } from "./live.js";
import { jsonField, sendForm, textFields } from "./options_form.js";
import { resultBlock, turnEntry } from "./results.js";
import { streamingBlocks } from "./streaming.js";
import { taskFacts } from "./task_facts.js";
import { timelineEntry } from "./timeline.js";

const body = document.body;
const TURN_ENDS = new Set(["codex.turn.completed", "codex.turn.failed", "codex.turn.interrupted"]);

export function taskView() {
  const taskId = body.dataset.taskId;
  const base = `/v1/tasks/${encodeURIComponent(taskId)}`;
  const timeline = document.getElementById("timeline");
  let lastSeq = 0;
  const streams = streamingBlocks(timeline);
  // Per state, the actions the transition table lets a person take (rendered by the server).
  const userActions = JSON.parse(body.dataset.userActions || "{}");

  function showUserActions(state) {
    const allowed = new Set(userActions[state] || []);
    for (const button of document.querySelectorAll("[data-user-action]")) {
      button.hidden = !allowed.has(button.dataset.userAction);
    }
  }

  async function loadTask() {
    const task = await api("GET", base);
    document.getElementById("task-state").replaceChildren(stateBadge(task.state));
    body.dataset.state = task.state;
    showUserActions(task.state);
    // Refreshes come with every token count: instructions a person opened stay open.
    const facts = document.getElementById("facts");
    const open = [...facts.querySelectorAll("dd[data-fact] > details[open]")].map((d) => d.parentElement.dataset.fact);
    facts.replaceChildren(...taskFacts(task));
    for (const fact of open) {
      const details = facts.querySelector(`dd[data-fact="${CSS.escape(fact)}"] > details`);
      if (details) details.open = true;
    }
    const result = document.getElementById("result");
    result.hidden = !task.has_result;
    document.getElementById("result-body").replaceChildren(...(task.has_result ? [resultBlock(task.result)] : []));
  }

  async function loadTurns() {
    const data = await api("GET", `${base}/turns`);
    const turns = document.getElementById("turns");
    turns.replaceChildren(...data.turns.map(turnEntry));
    if (!data.turns.length) turns.append(el("li", { class: "muted", text: "No turn yet." }));
  }

  async function loadDiff() {
    const diff = await api("GET", `${base}/diff`);
    document.getElementById("diff-summary").textContent = diff.summary || (diff.branch ? diff.branch : "");
    document.getElementById("diff").replaceWith(Object.assign(diffBlock(diff.diff || "(no changes)"), { id: "diff" }));
  }

  async function loadApprovals() {
    const data = await api("GET", `/v1/approvals?task_id=${encodeURIComponent(taskId)}`);
    const section = document.getElementById("task-approvals");
    section.replaceChildren(
      ...(data.approvals.length ? [el("h2", { text: "Waiting for approval" })] : []),
      ...data.approvals.map((a) => approvalCard(a, refresh)),
    );
    await refreshApprovalCount();
  }

  async function refresh() {
    await attempt(loadTask);
    await attempt(loadTurns);
    await attempt(loadApprovals);
  }
  const refreshSoon = debounce(refresh, 150);
  const diffSoon = debounce(() => attempt(loadDiff), 150);

  // A running command's line, until its item completes or waits for an approval.
  function dropRunning(itemId) {
    if (!itemId) return;
    const running = timeline.querySelector(`li[data-running-item="${CSS.escape(String(itemId))}"]`);
    if (running) running.remove();
  }

  // The timeline is the task's events in their sequence. Codex starts a command's item
  // before it asks to run it, so the completed command (its durable record) takes its own
  // place, after the approval that gated it, and never the place of its "running…" line.
  function addEvent(event) {
    if (event.seq <= lastSeq) return;
    lastSeq = event.seq;
    const data = event.data || {};
    if (event.type === "codex.item.completed" && data.item) {
      dropRunning(data.item.id);
      streams.complete(data.item.id);
    }
    if (TURN_ENDS.has(event.type)) streams.clear();
    if (event.type === "codex.approval.requested" && data.approval) dropRunning(data.approval.item_id);
    const node = timelineEntry(event);
    if (node && event.type === "codex.item.started" && data.item && data.item.id) {
      node.setAttribute("data-running-item", String(data.item.id));
    }
    if (node) timeline.append(node);
    if (event.type.startsWith("task.") || event.type.startsWith("approval.") || event.type.startsWith("codex.turn.") || event.type === "codex.token_usage.updated") {
      refreshSoon();
    }
    if (event.type === "task.state_changed" || event.type === "task.reconciled") diffSoon();
  }

  const form = document.getElementById("input-form");
  const input = document.getElementById("input-text");

  // The next turn's overrides (model, effort, output schema), when any is set.
  function turnOptions() {
    const options = textFields(form, ["model", "effort"]);
    const schema = jsonField(form, "output_schema");
    if (schema) options.output_schema = schema;
    return options;
  }

  async function act(action) {
    const text = input.value;
    // Resume takes the text box as its new input, when there is one.
    const body = () => {
      if (action === "steer") return { prompt: text };
      if (action === "message") return { prompt: text, ...turnOptions() };
      const resume = { ...(text.trim() ? { prompt: text } : {}), ...turnOptions() };
      return Object.keys(resume).length ? resume : undefined;
    };
    const done = await sendForm(form, body, (payload) => api("POST", `${base}/${action}`, payload));
    if (done) {
      if (action !== "resume" || text.trim()) input.value = "";
      const told = { steer: "Steered", message: "Message queued" }[action] || action;
      notice(`${told}: task is ${done.state}`, "info");
    }
    await refresh();
  }

  for (const button of ["interrupt", "resume", "cancel"]) {
    document.getElementById(button).addEventListener("click", async () => {
      if (button === "resume") {
        await act("resume");
        return;
      }
      const done = await attempt(() => api("POST", `${base}/${button}`));
      if (done) notice(`${button}: task is ${done.state}`, "info");
      await refresh();
    });
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const action = event.submitter ? event.submitter.dataset.action : "steer";
    if (!input.value.trim()) return;
    await act(action);
  });

  attempt(loadDiff);
  // EventSource resends the last seq it saw (Last-Event-ID) when it reconnects.
  // With deltas=true the stream also sends live codex.delta events (no seq) between them.
  const source = follow(`${base}/events/stream?deltas=true`, addEvent, refresh);
  source.addEventListener("codex.delta", (message) => streams.add(JSON.parse(message.data)));
  source.addEventListener("codex.deltas_dropped", () => streams.paused());
  follow("/admin/feed", (event) => {
    if (event.type.startsWith("approval.")) attempt(refreshApprovalCount);
  });
}
