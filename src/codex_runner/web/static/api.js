// The JSON API, same origin: the session cookie, and the CSRF header on every change. A
// 401 sends the browser to the login page.
const meta = (name) => document.querySelector(`meta[name="${name}"]`).content;
const csrfToken = meta("csrf-token");
const csrfHeader = meta("csrf-header");

// field: the request field the API names as the problem (forms show the error beside it).
export class ApiError extends Error {
  constructor(status, message, field) {
    super(message);
    this.status = status;
    this.field = field || null;
  }
}

export async function api(method, path, payload) {
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
    throw new ApiError(response.status, message, data.error && data.error.field);
  }
  return data;
}

export function notice(message, kind) {
  const box = document.getElementById("notice");
  box.textContent = message;
  box.className = `notice ${kind || "info"}`;
  box.hidden = false;
}

export async function attempt(fn) {
  try {
    return await fn();
  } catch (error) {
    notice(error.message, "error");
    return undefined;
  }
}
