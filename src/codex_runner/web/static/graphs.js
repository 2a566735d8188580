// Graphs: the list of graphs, and one graph drawn as SVG columns by dependency depth.
import { api, attempt } from "./api.js";
import { debounce, el, stateBadge } from "./dom.js";
import { follow } from "./live.js";

const body = document.body;

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

export function graphView() {
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

export function graphsView() {
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
