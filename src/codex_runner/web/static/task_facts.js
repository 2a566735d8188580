// A task's facts as its page lists them: where and how it runs, the Codex session options
// it set (the rest are the daemon's defaults and not listed), its purpose and metadata.
import { age, el, hostLabel, purposeLabel, taskLink } from "./dom.js";

// Instructions can be long: collapsed, with their first line as the summary.
function collapsed(text) {
  const first = text.split("\n", 1)[0];
  const summary = first.length > 80 ? `${first.slice(0, 80)}…` : first;
  return el("details", { class: "instructions" }, el("summary", { text: `${summary} (${text.length} characters)` }), el("pre", { text }));
}

// Each value links to the tasks that carry the same one.
function metadataList(map) {
  const keys = Object.keys(map || {}).sort();
  if (!keys.length) return null;
  const tasksWith = (key) => `/admin/?${new URLSearchParams([[`metadata.${key}`, map[key]]])}`;
  return el(
    "dl",
    { class: "key-values" },
    ...keys.flatMap((key) => [el("dt", { text: key }), el("dd", {}, el("a", { href: tasksWith(key), title: "tasks with this value", text: map[key] }))]),
  );
}

export function taskFacts(task) {
  const u = task.usage;
  const config = task.config && Object.keys(task.config).length ? el("pre", { text: JSON.stringify(task.config, null, 2) }) : null;
  const facts = [
    ["prompt", el("pre", { class: "prompt", text: task.prompt })],
    ["where", task.repo ? `${task.repo} @ ${task.base_ref || "HEAD"}` : task.cwd],
    ["branch", task.branch],
    ["priority", task.priority],
    ["settings", [task.model, task.effort, task.sandbox, task.approval_policy].filter(Boolean).join(" · ") || "defaults"],
    ["runtime", task.runtime || "the daemon's default"],
    ["host", task.host_id ? hostLabel(task.host_id) : null],
    ["purpose", task.purpose ? purposeLabel(task.purpose) : null],
    ["metadata", metadataList(task.metadata)],
    ["personality", task.personality],
    ["service tier", task.service_tier],
    ["model provider", task.model_provider],
    ["developer instructions", task.developer_instructions ? collapsed(task.developer_instructions) : null],
    ["base instructions", task.base_instructions ? collapsed(task.base_instructions) : null],
    ["Codex config", config],
    ["ephemeral", task.ephemeral ? "yes: Codex keeps no rollout of the thread" : null],
    ["tokens", el("span", { id: "tokens", text: `${u.total_tokens} total (${u.input_tokens} in, ${u.cached_input_tokens} cached, ${u.output_tokens} out, ${u.reasoning_output_tokens} reasoning)` })],
    ["reason", task.reason],
    ["created", `${task.created_at} (${age(task.created_at)} ago)`],
    ["thread", task.thread_id],
    ["current turn", task.current_turn_id],
    ["graph", task.graph_id ? el("a", { href: `/admin/graphs/${encodeURIComponent(task.graph_id)}`, text: task.graph_id }) : null],
    ["parent", task.parent_id ? taskLink(task.parent_id) : null],
    ["pending message", task.pending_message],
  ];
  return facts
    .filter(([, v]) => v !== null && v !== undefined && v !== "")
    .flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { "data-fact": k }, v)]);
}
