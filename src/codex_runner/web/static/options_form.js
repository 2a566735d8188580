// Forms that send options to the API: read the fields a person filled (an empty one is not
// sent, so the daemon's default holds), catch what the browser can judge itself (JSON that
// does not parse, a metadata line without "="), and show any error next to the field it
// names, or at the top of the form. The form is never cleared on an error.
import { ApiError, notice } from "./api.js";
import { el } from "./dom.js";

// A field the API names that the form shows under another control's name.
const FIELD_ALIASES = { repo: "where", cwd: "where", base_ref: "where", input: "prompt", turn_cwd: "where" };

export class FieldError extends Error {
  constructor(field, message) {
    super(message);
    this.field = field;
  }
}

function control(form, name) {
  const found = form.elements.namedItem(name);
  return found instanceof Element ? found : null;
}

// Text, select and textarea fields by name, trimmed; the empty ones left out.
export function textFields(form, names) {
  const values = {};
  for (const name of names) {
    const field = control(form, name);
    const value = field ? field.value.trim() : "";
    if (value) values[name] = value;
  }
  return values;
}

// A JSON object typed into a textarea; undefined when it is empty.
export function jsonField(form, name) {
  const field = control(form, name);
  const text = field ? field.value.trim() : "";
  if (!text) return undefined;
  let value;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new FieldError(name, `not valid JSON: ${error.message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new FieldError(name, "must be a JSON object ({...})");
  }
  return value;
}

// KEY=VALUE lines as an object; blank lines skipped. The keys' own rules are the API's.
export function metadataField(form, name) {
  const field = control(form, name);
  const lines = (field ? field.value : "").split("\n").map((line) => line.trim()).filter(Boolean);
  if (!lines.length) return undefined;
  const metadata = {};
  for (const [index, line] of lines.entries()) {
    const at = line.indexOf("=");
    if (at <= 0) throw new FieldError(name, `line ${index + 1} (${line.slice(0, 40)}) is not KEY=VALUE`);
    metadata[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return metadata;
}

export function clearErrors(form) {
  for (const node of form.querySelectorAll(".field-error")) node.remove();
  for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  const top = form.querySelector(".form-error");
  if (top) {
    top.textContent = "";
    top.hidden = true;
  }
}

// The error beside the control it names ("metadata.team" and "input[0].path" name
// metadata and prompt), opening a collapsed section that holds it; else at the form's top.
export function showError(form, field, message) {
  const base = String(field || "").split(/[.[]/, 1)[0];
  const target = control(form, field) || control(form, base) || control(form, FIELD_ALIASES[base]);
  if (target) {
    target.setAttribute("aria-invalid", "true");
    const details = target.closest("details");
    if (details) details.open = true;
    const label = target.closest("label") || target;
    label.append(el("span", { class: "field-error", "data-error-for": target.name, text: message }));
    target.focus();
    return;
  }
  const top = form.querySelector(".form-error");
  if (!top) {
    notice(message, "error");
    return;
  }
  top.textContent = message;
  top.hidden = false;
}

// Builds the body (which may throw FieldError) and sends it; every error is shown on the
// form. Returns the API's answer, or undefined after an error.
export async function sendForm(form, build, send) {
  clearErrors(form);
  try {
    return await send(build());
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return undefined; // to the login page
    showError(form, error.field, error.message);
    return undefined;
  }
}
