// A task's timeline: one entry per event, in the events' order.
import { diffBlock, el, stateBadge } from "./dom.js";
import { markdown } from "./markdown.js";

export function timelineEntry(event) {
  const data = event.data || {};
  const item = data.item || {};
  const time = el("time", { datetime: event.at, text: new Date(event.at).toLocaleTimeString() });
  const entry = (kind, ...content) =>
    el("li", { class: `event ${kind}`, "data-seq": event.seq, "data-type": event.type }, time, ...content);
  switch (event.type) {
    case "task.created":
      return entry("runner", el("strong", { text: "Task created" }), el("pre", { class: "prompt", text: data.prompt }));
    case "task.state_changed":
    case "task.reconciled":
      return entry(
        "runner",
        "State ",
        stateBadge(data.from),
        " → ",
        stateBadge(data.to),
        data.reason ? el("span", { class: "muted", text: ` (${data.reason})` }) : null,
      );
    case "task.message_received":
      return entry("user", el("strong", { text: "Message: " }), el("span", { text: data.text }));
    case "graph.created":
      return entry("runner", el("strong", { text: "Graph created " }), el("a", { href: `/admin/graphs/${encodeURIComponent(data.graph_id)}`, text: data.graph_id }));
    case "approval.requested":
      return entry(
        "approval",
        el("strong", { text: `Approval requested (${data.kind})` }),
        data.command ? el("pre", { class: "command", text: `$ ${data.command}` }) : null,
        data.cwd ? el("div", { class: "muted", text: `in ${data.cwd}` }) : null,
      );
    case "approval.decided":
      return entry("approval", el("strong", { text: `Approval decided: ${data.decision}` }), data.by ? ` by ${data.by}` : "");
    case "approval.expired":
      return entry("approval", el("strong", { text: "Approval expired" }));
    case "codex.item.started":
      if (item.type !== "command_execution") return null;
      return entry("command running", el("pre", { class: "command", text: `$ ${item.command}` }), el("span", { class: "muted", text: "running…" }));
    case "codex.item.completed":
      return itemEntry(entry, item);
    case "codex.turn.started":
      return entry("turn", el("strong", { text: "Turn started" }));
    case "codex.turn.completed":
      return entry("turn", el("strong", { text: "Turn completed" }));
    case "codex.turn.interrupted":
      return entry("turn", el("strong", { text: "Turn interrupted" }));
    case "codex.turn.steered":
      return entry("user", el("strong", { text: "Steered" }), data.message ? `: ${data.message}` : "");
    case "codex.turn.failed":
    case "codex.error":
      return entry(
        "error",
        el("strong", { text: event.type === "codex.error" ? "Error" : "Turn failed" }),
        data.error ? el("pre", { text: `${data.error.message}${data.error.detail ? `\n${data.error.detail}` : ""}` }) : null,
        data.message ? el("pre", { text: data.message }) : null,
      );
    case "codex.warning":
      return entry("warning", el("strong", { text: "Warning: " }), el("span", { text: data.message || "" }));
    case "codex.thread.replaced":
      return entry("warning", el("strong", { text: "Thread replaced" }), data.message ? `: ${data.message}` : "");
    default:
      return null; // token usage, thread started/resumed: shown in the task's facts
  }
}

function itemEntry(entry, item) {
  switch (item.type) {
    case "agent_message":
      return entry("agent", markdown(item.text));
    case "reasoning":
      return entry("reasoning", el("em", { text: "Reasoning: " }), el("span", { text: item.text || "" }));
    case "user_message":
      return entry("user", el("strong", { text: "Input: " }), el("span", { text: item.text || "" }));
    case "plan":
      return entry("reasoning", el("strong", { text: "Plan" }), markdown(item.text));
    case "command_execution": {
      const failed = item.exit_code !== null && item.exit_code !== undefined && item.exit_code !== 0;
      return entry(
        `command${failed ? " failed" : ""}`,
        el("pre", { class: "command", text: `$ ${item.command}` }),
        el("span", { class: "exit-code", text: `exit ${item.exit_code ?? "?"}${item.status ? ` · ${item.status}` : ""}` }),
        item.output ? el("details", {}, el("summary", { text: "output" }), el("pre", { class: "output", text: item.output })) : null,
      );
    }
    case "file_change":
      return entry(
        "files",
        el("strong", { text: "File changes" }),
        ...(item.changes || []).map((change) =>
          el("details", { open: true }, el("summary", { text: `${change.kind} ${change.path}` }), change.diff ? diffBlock(change.diff) : null),
        ),
      );
    default:
      return entry("other", el("span", { text: `${item.raw_type || item.type}${item.text ? `: ${item.text}` : ""}` }));
  }
}
