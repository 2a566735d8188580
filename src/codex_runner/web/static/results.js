// Structured results (a turn's output-schema JSON) and a task's turns as the task page shows
// them: pretty-printed JSON with a copy button, one entry per turn.
import { duration, el } from "./dom.js";

// Selecting the text is the fallback where the browser keeps the clipboard to itself
// (a page not served from localhost or https).
async function copy(pre, button) {
  try {
    await navigator.clipboard.writeText(pre.textContent);
    button.textContent = "Copied";
  } catch {
    const range = document.createRange();
    range.selectNodeContents(pre);
    window.getSelection().removeAllRanges();
    window.getSelection().addRange(range);
    button.textContent = "Selected: press Ctrl+C";
  }
}

export function resultBlock(value) {
  const pre = el("pre", { class: "result-json", text: JSON.stringify(value, null, 2) });
  const button = el("button", { type: "button", class: "copy", text: "Copy" });
  button.addEventListener("click", () => copy(pre, button));
  return el("div", { class: "result-block" }, button, pre);
}

function seconds(turn) {
  if (!turn.finished_at) return null;
  return (Date.parse(turn.finished_at) - Date.parse(turn.started_at)) / 1000;
}

export function turnEntry(turn) {
  const head = [
    `Turn ${turn.number}`,
    turn.status,
    turn.finished_at ? duration(seconds(turn)) : null,
    `${turn.usage.total_tokens} tokens`,
  ]
    .filter(Boolean)
    .join(" · ");
  return el(
    "li",
    { class: `turn turn-${turn.status}`, "data-turn": turn.number, "data-status": turn.status },
    el("strong", { text: head }),
    el("div", { class: "muted input-summary", title: "input", text: turn.input_summary }),
    turn.error ? el("pre", { class: "error turn-error", text: turn.error }) : null,
    turn.has_result ? resultBlock(turn.result) : null,
  );
}
