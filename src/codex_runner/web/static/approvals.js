// Approvals: the cards on the approvals page and the task page, and the count in the nav.
import { api, attempt, notice } from "./api.js";
import { debounce, diffBlock, el, taskLink } from "./dom.js";
import { follow } from "./live.js";

export function approvalCard(approval, reload) {
  const buttons = approval.available_decisions.map((decision) =>
    el("button", {
      type: "button",
      class: `decide decision-${decision.replace(/[^a-z_]/gi, "")}`,
      "data-decision": decision,
      text: decision,
      onclick: async (event) => {
        event.target.disabled = true;
        try {
          await api("POST", `/v1/approvals/${encodeURIComponent(approval.id)}`, {
            decision,
            by: "admin page",
          });
        } catch (error) {
          notice(
            error.status === 409 ? `Already decided elsewhere: ${error.message}` : error.message,
            "error",
          );
        }
        await reload();
      },
    }),
  );
  const details = [];
  if (approval.command) {
    details.push(el("pre", { class: "command", text: `$ ${approval.command}` }));
  }
  if (approval.cwd) details.push(el("div", { class: "muted" }, "in ", el("code", { text: approval.cwd })));
  if (approval.reason) details.push(el("p", { text: approval.reason }));
  for (const change of approval.changes) {
    details.push(el("div", {}, el("strong", { text: `${change.kind} ${change.path}` })));
    if (change.diff) details.push(diffBlock(change.diff));
  }
  return el(
    "article",
    { class: "approval", "data-approval-id": approval.id },
    el("header", {}, el("strong", { text: approval.kind }), " for task ", taskLink(approval.task_id)),
    ...details,
    el("div", { class: "actions" }, ...buttons),
  );
}

export async function refreshApprovalCount() {
  const data = await api("GET", "/v1/approvals");
  const badge = document.getElementById("approval-count");
  if (badge) badge.textContent = data.approvals.length ? String(data.approvals.length) : "";
  return data.approvals;
}

export function approvalsView() {
  const box = document.getElementById("approvals");
  async function load() {
    const approvals = await refreshApprovalCount();
    box.replaceChildren(...approvals.map((a) => approvalCard(a, () => attempt(load))));
    if (!approvals.length) box.append(el("p", { class: "muted", id: "no-approvals", text: "Nothing waits for a decision." }));
  }
  const reload = debounce(() => attempt(load), 100);
  follow(
    "/admin/feed",
    (event) => {
      if (event.type.startsWith("approval.")) reload();
    },
    reload,
  );
}
