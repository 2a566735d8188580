// The admin page: reads and changes everything through the JSON API (same origin, session
// cookie, CSRF header) and follows Server-Sent Events. Model output is only ever inserted
// as text, or as HTML produced by renderMarkdown, which escapes its input first.
// One module per view, loaded natively as ES modules (no bundler); this one starts the
// view the page names.
import { api, attempt } from "./api.js";
import { watchApprovals } from "./approval_alerts.js";
import { approvalsView } from "./approvals.js";
import { coauthorsView } from "./coauthors.js";
import { graphView, graphsView } from "./graphs.js";
import { logsView } from "./logs.js";
import { operationsView } from "./operations.js";
import { profilesView } from "./profiles.js";
import { releasesView } from "./releases.js";
import { runtimeView } from "./runtime.js";
import { taskView } from "./task.js";
import { tasksView } from "./tasks.js";

const body = document.body;

const logout = document.getElementById("logout");
if (logout) {
  logout.addEventListener("click", async () => {
    await attempt(() => api("POST", "/admin/logout"));
    window.location.assign("/admin/login");
  });
}
const views = { tasks: tasksView, task: taskView, approvals: approvalsView, graph: graphView, graphs: graphsView, runtime: runtimeView, logs: logsView, operations: operationsView, profiles: profilesView, coauthors: coauthorsView, releases: releasesView };
const view = views[body.dataset.page];
if (body.dataset.page !== "login") watchApprovals();
if (view) view();
