// The task page: its facts, diff, approvals and timeline, and the actions its state allows.
import { api, attempt, notice } from "./api.js";
import { approvalCard, refreshApprovalCount } from "./approvals.js";
import { age, debounce, diffBlock, el, stateBadge, taskLink } from "./dom.js";
import { follow } from "./live.js";
import { streamingBlocks } from "./streaming.js";
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
    const u = task.usage;
    const facts = [
      ["prompt", el("pre", { class: "prompt", text: task.prompt })],
      ["where", task.repo ? `${task.repo} @ ${task.base_ref || "HEAD"}` : task.cwd],
      ["branch", task.branch],
      ["priority", task.priority],
      ["settings", [task.model, task.effort, task.sandbox, task.approval_policy].filter(Boolean).join(" · ") || "defaults"],
      ["tokens", el("span", { id: "tokens", text: `${u.total_tokens} total (${u.input_tokens} in, ${u.cached_input_tokens} cached, ${u.output_tokens} out, ${u.reasoning_output_tokens} reasoning)` })],
      ["reason", task.reason],
      ["created", `${task.created_at} (${age(task.created_at)} ago)`],
      ["thread", task.thread_id],
      ["graph", task.graph_id ? el("a", { href: `/admin/graphs/${encodeURIComponent(task.graph_id)}`, text: task.graph_id }) : null],
      ["parent", task.parent_id ? taskLink(task.parent_id) : null],
      ["pending message", task.pending_message],
    ];
    document.getElementById("facts").replaceChildren(
      ...facts.filter(([, v]) => v !== null && v !== undefined && v !== "").flatMap(([k, v]) => [el("dt", { text: k }), el("dd", {}, v)]),
    );
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

  for (const button of ["interrupt", "resume", "cancel"]) {
    document.getElementById(button).addEventListener("click", async () => {
      // Resume takes the text box as its new input, when there is one.
      const text = document.getElementById("input-text").value;
      const payload = button === "resume" && text.trim() ? { prompt: text } : undefined;
      const done = await attempt(() => api("POST", `${base}/${button}`, payload));
      if (done) notice(`${button}: task is ${done.state}`, "info");
      await refresh();
    });
  }
  document.getElementById("input-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const action = event.submitter ? event.submitter.dataset.action : "steer";
    const text = document.getElementById("input-text").value;
    if (!text.trim()) return;
    const done = await attempt(() => api("POST", `${base}/${action}`, { prompt: text }));
    if (done) {
      document.getElementById("input-text").value = "";
      notice(`${action === "steer" ? "Steered" : "Message queued"}: task is ${done.state}`, "info");
    }
    await refresh();
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
