// Pending approvals on every page: the count in the nav, polled every few seconds, and
// (once the user allows it with the "Notify me" button; browsers want a click for that) a
// browser notification for each approval that starts waiting.
import { attempt } from "./api.js";
import { refreshApprovalCount } from "./approvals.js";

const POLL_MS = 5000;

function permissionButton() {
  const button = document.getElementById("approval-alerts");
  if (!button || !("Notification" in window)) return;
  const show = () => {
    const state = Notification.permission;
    button.hidden = state === "granted";
    button.disabled = state === "denied";
    button.textContent = state === "denied" ? "Notifications blocked" : "Notify me";
    button.title =
      state === "denied"
        ? "This browser blocks notifications from this page; allow them in its site settings."
        : "Announce each new approval with a browser notification.";
  };
  button.addEventListener("click", async () => {
    await Notification.requestPermission();
    show();
  });
  show();
}

function announce(approval) {
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  const what = approval.command ? `$ ${approval.command}` : approval.kind;
  const note = new Notification("Codex asks for an approval", {
    body: `${what}\ntask ${approval.task_id}`,
    tag: `approval-${approval.id}`,
  });
  note.onclick = () => {
    window.focus();
    window.location.assign("/admin/approvals");
  };
}

export function watchApprovals() {
  permissionButton();
  let known = null; // ids seen so far; the first poll only learns them
  async function poll() {
    const approvals = await refreshApprovalCount();
    const ids = new Set(approvals.map((a) => a.id));
    if (known !== null) {
      for (const approval of approvals) if (!known.has(approval.id)) announce(approval);
    }
    known = ids;
  }
  attempt(poll);
  setInterval(() => attempt(poll), POLL_MS);
}
