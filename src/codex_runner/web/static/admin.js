// The admin page: reads and changes everything through the JSON API (same origin, session
// cookie, CSRF header) and follows Server-Sent Events. Model output is only ever inserted
// as text, or as HTML produced by renderMarkdown, which escapes its input first.
"use strict";

(() => {
  const body = document.body;
  const meta = (name) => document.querySelector(`meta[name="${name}"]`).content;
  const csrfToken = meta("csrf-token");
  const csrfHeader = meta("csrf-header");
  const eventTypes = JSON.parse(body.dataset.eventTypes || "[]");

  // --- small helpers -------------------------------------------------------------------

  function el(tag, attrs, ...children) {
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

  function debounce(fn, ms) {
    let timer = null;
    return () => {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  }

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(method, path, payload) {
    const headers = { Accept: "application/json" };
    if (method !== "GET") headers[csrfHeader] = csrfToken;
    if (payload !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: payload === undefined ? undefined : JSON.stringify(payload),
    });
    if (response.status === 401) {
      window.location.assign("/admin/login");
      throw new ApiError(401, "logged out");
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const message = (data.error && data.error.message) || `HTTP ${response.status}`;
      throw new ApiError(response.status, message);
    }
    return data;
  }

  function notice(message, kind) {
    const box = document.getElementById("notice");
    box.textContent = message;
    box.className = `notice ${kind || "info"}`;
    box.hidden = false;
  }

  async function attempt(fn) {
    try {
      return await fn();
    } catch (error) {
      notice(error.message, "error");
      return undefined;
    }
  }

  function age(iso) {
    const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    if (seconds < 60) return `${Math.floor(seconds)}s`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
    if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
    return `${Math.floor(seconds / 86400)}d`;
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    const s = Math.floor(seconds);
    return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m ${s % 60}s`;
  }

  const stateBadge = (state) => el("span", { class: `state state-${state}`, text: state });
  const taskLink = (id, text) => el("a", { href: `/admin/tasks/${encodeURIComponent(id)}`, text: text || id });

  function diffBlock(text) {
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

  // --- Markdown: escape everything, then add a few safe tags ---------------------------

  function escapeHtml(text) {
    const map = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
    return text.replace(/[&<>"']/g, (c) => map[c]);
  }

  function inlineMarkdown(escaped) {
    return escaped
      .split(/(`[^`]+`)/g)
      .map((part) => {
        if (part.length > 1 && part.startsWith("`") && part.endsWith("`")) {
          return `<code>${part.slice(1, -1)}</code>`;
        }
        return part
          .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
          .replace(/(^|[^*\w])\*([^*\s][^*]*)\*/g, "$1<em>$2</em>")
          .replace(
            /\[([^\]]+)\]\((https?:\/\/[^\s)]+)\)/g,
            '<a href="$2" rel="noopener noreferrer" target="_blank">$1</a>',
          );
      })
      .join("");
  }

  function renderMarkdown(source) {
    const lines = String(source).replace(/\r\n?/g, "\n").split("\n");
    const out = [];
    let paragraph = [];
    let list = null;
    const flushParagraph = () => {
      if (paragraph.length) out.push(`<p>${paragraph.map(inlineMarkdown).join("<br>")}</p>`);
      paragraph = [];
    };
    const flushList = () => {
      if (list) out.push(`<${list.tag}>${list.items.map((i) => `<li>${i}</li>`).join("")}</${list.tag}>`);
      list = null;
    };
    for (let i = 0; i < lines.length; i += 1) {
      const line = lines[i];
      if (/^\s*```/.test(line)) {
        flushParagraph();
        flushList();
        const code = [];
        for (i += 1; i < lines.length && !/^\s*```\s*$/.test(lines[i]); i += 1) code.push(lines[i]);
        out.push(`<pre><code>${escapeHtml(code.join("\n"))}</code></pre>`);
        continue;
      }
      const heading = line.match(/^(#{1,6})\s+(.*)$/);
      const item = line.match(/^\s*([-*+]|\d+\.)\s+(.*)$/);
      if (heading) {
        flushParagraph();
        flushList();
        const level = heading[1].length;
        out.push(`<h${level + 2 > 6 ? 6 : level + 2}>${inlineMarkdown(escapeHtml(heading[2]))}</h${level + 2 > 6 ? 6 : level + 2}>`);
      } else if (item) {
        flushParagraph();
        const tag = /\d/.test(item[1]) ? "ol" : "ul";
        if (list && list.tag !== tag) flushList();
        if (!list) list = { tag, items: [] };
        list.items.push(inlineMarkdown(escapeHtml(item[2])));
      } else if (!line.trim()) {
        flushParagraph();
        flushList();
      } else {
        flushList();
        paragraph.push(escapeHtml(line));
      }
    }
    flushParagraph();
    flushList();
    return out.join("");
  }

  function markdown(text) {
    const div = el("div", { class: "markdown" });
    div.innerHTML = renderMarkdown(text || ""); // escaped by renderMarkdown
    return div;
  }

  // --- live feeds ----------------------------------------------------------------------

  function setLive(live) {
    const badge = document.getElementById("live");
    if (!badge) return;
    badge.textContent = live ? "live" : "reconnecting…";
    badge.className = live ? "live on" : "live off";
  }

  // An EventSource with a listener for every event type; onOpen runs on each (re)connect,
  // so a view re-reads what it shows and nothing is lost while it was away.
  function follow(url, onEvent, onOpen) {
    const source = new EventSource(url);
    source.addEventListener("open", () => {
      setLive(true);
      if (onOpen) onOpen();
    });
    source.addEventListener("error", () => setLive(false));
    const handle = (message) => onEvent(JSON.parse(message.data));
    for (const type of eventTypes) source.addEventListener(type, handle);
    source.addEventListener("message", handle);
    window.addEventListener("pagehide", () => source.close());
    return source;
  }

  // --- approvals (the approvals page and the task page) --------------------------------

  function approvalCard(approval, reload) {
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

  async function refreshApprovalCount() {
    const data = await api("GET", "/v1/approvals");
    const badge = document.getElementById("approval-count");
    if (badge) badge.textContent = data.approvals.length ? String(data.approvals.length) : "";
    return data.approvals;
  }

  // --- views ---------------------------------------------------------------------------

  function tasksView() {
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

  function timelineEntry(event) {
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

  function taskView() {
    const taskId = body.dataset.taskId;
    const base = `/v1/tasks/${encodeURIComponent(taskId)}`;
    const timeline = document.getElementById("timeline");
    let lastSeq = 0;
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
      if (event.type === "codex.item.completed" && data.item) dropRunning(data.item.id);
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
    follow(`${base}/events/stream`, addEvent, refresh);
    follow("/admin/feed", (event) => {
      if (event.type.startsWith("approval.")) attempt(refreshApprovalCount);
    });
  }

  function approvalsView() {
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

  const STATE_ORDER = ["queued", "running", "awaiting_approval", "interrupted", "completed", "failed", "cancelled"];

  function graphSvg(graph) {
    const ns = "http://www.w3.org/2000/svg";
    const svgEl = (tag, attrs, text) => {
      const node = document.createElementNS(ns, tag);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
      if (text !== undefined) node.textContent = text;
      return node;
    };
    // depends_on and blocked hold task ids.
    const byId = new Map(graph.children.map((c) => [c.id, c]));
    const depth = new Map();
    const depthOf = (child, seen = new Set()) => {
      if (depth.has(child.id)) return depth.get(child.id);
      if (seen.has(child.id)) return 0;
      seen.add(child.id);
      const deps = child.depends_on.map((id) => byId.get(id)).filter(Boolean);
      const d = deps.length ? 1 + Math.max(...deps.map((dep) => depthOf(dep, seen))) : 0;
      depth.set(child.id, d);
      return d;
    };
    graph.children.forEach((c) => depthOf(c));
    const parentDepth = graph.children.length ? 1 + Math.max(...depth.values()) : 0;
    const columns = new Map();
    const place = (task, d) => {
      if (!columns.has(d)) columns.set(d, []);
      columns.get(d).push(task);
    };
    graph.children.forEach((c) => place(c, depth.get(c.id)));
    place(graph.parent, parentDepth);
    const W = 180, H = 54, GX = 70, GY = 24;
    const rows = Math.max(...[...columns.values()].map((col) => col.length));
    const pos = new Map();
    for (const [d, col] of columns) {
      col.forEach((task, i) => {
        const offsetY = ((rows - col.length) * (H + GY)) / 2;
        pos.set(task.id, { x: 10 + d * (W + GX), y: 10 + offsetY + i * (H + GY) });
      });
    }
    const width = 20 + (parentDepth + 1) * (W + GX) - GX;
    const height = 20 + rows * (H + GY) - GY;
    const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img" });
    const defs = svgEl("defs", {});
    const marker = svgEl("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 8, markerHeight: 8, orient: "auto-start-reverse" });
    marker.append(svgEl("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrowhead" }));
    defs.append(marker);
    svg.append(defs);
    const edge = (from, to, kind) => {
      const a = pos.get(from.id), b = pos.get(to.id);
      svg.append(svgEl("line", { x1: a.x + W, y1: a.y + H / 2, x2: b.x, y2: b.y + H / 2, class: `edge ${kind}`, "marker-end": "url(#arrow)" }));
    };
    const prerequisites = new Set(graph.children.flatMap((c) => c.depends_on));
    for (const child of graph.children) {
      for (const id of child.depends_on) if (byId.has(id)) edge(byId.get(id), child, "depends");
      // The parent waits for every child; drawing it from the last ones is enough.
      if (!prerequisites.has(child.id)) edge(child, graph.parent, "parent");
    }
    const blocked = new Set(graph.blocked);
    for (const task of [...graph.children, graph.parent]) {
      const p = pos.get(task.id);
      const link = svgEl("a", { href: `/admin/tasks/${encodeURIComponent(task.id)}`, class: "node", "data-task-id": task.id, "data-state": task.state });
      link.append(svgEl("rect", { x: p.x, y: p.y, width: W, height: H, rx: 6, class: `node-box state-${task.state}${blocked.has(task.id) ? " blocked" : ""}` }));
      const label = task === graph.parent ? "parent" : task.key;
      link.append(svgEl("text", { x: p.x + 10, y: p.y + 22, class: "node-key" }, label.length > 22 ? `${label.slice(0, 21)}…` : label));
      link.append(svgEl("text", { x: p.x + 10, y: p.y + 42, class: "node-state" }, `${task.state}${blocked.has(task.id) ? " (blocked)" : ""}`));
      svg.append(link);
    }
    return svg;
  }

  function graphView() {
    const graphId = body.dataset.graphId;
    let members = new Set();
    async function load() {
      const graph = await api("GET", `/v1/graphs/${encodeURIComponent(graphId)}`);
      members = new Set([graph.parent.id, ...graph.children.map((c) => c.id)]);
      document.getElementById("graph-state").replaceChildren(stateBadge(graph.state));
      document.getElementById("graph").replaceChildren(graphSvg(graph));
    }
    const reload = debounce(() => attempt(load), 200);
    follow(
      "/admin/feed",
      (event) => {
        if (members.has(event.task_id) && event.type.startsWith("task.")) reload();
      },
      reload,
    );
  }

  function graphsView() {
    async function load() {
      const data = await api("GET", "/v1/tasks?limit=1000");
      const parents = data.tasks.filter((t) => t.graph_id && !t.parent_id);
      const list = document.getElementById("graph-list");
      list.replaceChildren(
        ...parents.map((p) =>
          el("li", {}, el("a", { href: `/admin/graphs/${encodeURIComponent(p.graph_id)}`, text: p.graph_id }), " ", stateBadge(p.state), " ", el("span", { class: "muted", text: (p.prompt || "").slice(0, 80) })),
        ),
      );
      if (!parents.length) list.append(el("li", { class: "muted", text: "No graphs among the latest 1,000 tasks." }));
    }
    const reload = debounce(() => attempt(load), 300);
    follow("/admin/feed", (event) => {
      if (event.type === "graph.created" || event.type === "task.state_changed") reload();
    }, reload);
  }

  function runtimeView() {
    async function load() {
      const status = await api("GET", "/v1/status");
      const r = status.runtime;
      const facts = [
        ["codex-runner", status.version],
        ["Codex version", r.codex_version || "unknown"],
        ["runtime", `${r.kind} · ${r.state}`],
        ["pid", r.pid ?? "—"],
        ["uptime", duration(r.uptime_s)],
        ["restarts", r.restarts],
        ["running", `${status.active.length} active, at most ${status.max_concurrent} at once`],
        ["last error", r.last_error || "none"],
      ];
      document.getElementById("runtime").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { "data-fact": k, text: v })]));
      const counts = STATE_ORDER.map((state) => el("tr", {}, el("td", {}, stateBadge(state)), el("td", { class: "num", text: status.counts[state] || 0 })));
      document.querySelector("#counts tbody").replaceChildren(...counts);
      const warnings = r.warnings.length ? r.warnings.map((w) => el("li", { text: w })) : [el("li", { class: "muted", text: "none" })];
      document.getElementById("warnings").replaceChildren(...warnings);
    }
    const reload = debounce(() => attempt(load), 300);
    follow("/admin/feed", (event) => {
      if (event.type.startsWith("task.") || event.type === "codex.warning") reload();
    }, reload);
    setInterval(() => attempt(load), 5000); // uptime
  }

  // --- start ---------------------------------------------------------------------------

  const logout = document.getElementById("logout");
  if (logout) {
    logout.addEventListener("click", async () => {
      await attempt(() => api("POST", "/admin/logout"));
      window.location.assign("/admin/login");
    });
  }
  const views = { tasks: tasksView, task: taskView, approvals: approvalsView, graph: graphView, graphs: graphsView, runtime: runtimeView };
  const view = views[body.dataset.page];
  if (view) {
    if (body.dataset.page !== "tasks" && body.dataset.page !== "task" && body.dataset.page !== "approvals") {
      attempt(refreshApprovalCount);
    }
    view();
  }
})();
