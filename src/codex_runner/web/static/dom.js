// Building the page's DOM: elements from attributes and children (text is always inserted
// as text), and the small formatters the views share.

export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = String(value);
    else if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function debounce(fn, ms) {
  let timer = null;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
}

export function age(iso) {
  const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (seconds < 60) return `${Math.floor(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.floor(seconds);
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m ${s % 60}s`;
}

export const stateBadge = (state) => el("span", { class: `state state-${state}`, text: state });
export const taskLink = (id, text) => el("a", { href: `/admin/tasks/${encodeURIComponent(id)}`, text: text || id });

export function diffBlock(text) {
  const pre = el("pre", { class: "diff" });
  for (const line of (text || "").split("\n")) {
    let kind = "";
    if (line.startsWith("+") && !line.startsWith("+++")) kind = "add";
    else if (line.startsWith("-") && !line.startsWith("---")) kind = "del";
    else if (line.startsWith("@@")) kind = "hunk";
    pre.append(el("span", { class: kind, text: `${line}\n` }));
  }
  return pre;
}

// A task's purpose as a small label that lists the tasks with the same purpose.
export const purposeLabel = (purpose) =>
  el("a", { class: "label purpose", href: `/admin/?purpose=${encodeURIComponent(purpose)}`, title: "tasks with this purpose", text: purpose });

// The host that claimed a task last (several hosts share a PostgreSQL store), as a small
// label that leads to the hosts panel.
export const hostLabel = (hostId) =>
  el("a", { class: "label host", href: "/admin/runtime#hosts", title: `host ${hostId} claimed it`, "data-host": hostId, text: hostId });
