// Live deltas on a task's timeline: an item still streaming (the agent's message, a
// command's output) shows as a block that grows with each codex.delta, until the item's
// durable `codex.item.completed` entry takes over. Deltas are never stored, so a block is
// only ever a preview: whatever it shows, the completed item is what stays.
import { el } from "./dom.js";
import { markdown } from "./markdown.js";

// The kinds the timeline shows growing; the others (reasoning, plan, diff) wait for their item.
const SHOWN_KINDS = new Set(["agent_message", "command_output"]);

export function streamingBlocks(timeline) {
  const texts = new Map(); // item id -> the text received so far

  const selector = (attr, itemId) => `li[${attr}="${CSS.escape(String(itemId))}"]`;

  // A command's output grows inside its "running…" line; anything else gets its own block.
  function blockFor(delta) {
    if (delta.kind === "command_output") {
      const running = timeline.querySelector(selector("data-running-item", delta.item_id));
      if (running) {
        let pre = running.querySelector("pre.output.streaming-text");
        if (!pre) {
          pre = el("pre", { class: "output streaming-text" });
          running.append(pre);
        }
        return pre;
      }
    }
    let block = timeline.querySelector(selector("data-streaming-item", delta.item_id));
    if (!block) {
      const kind = delta.kind === "agent_message" ? "agent" : "command";
      block = el(
        "li",
        { class: `event ${kind} streaming`, "data-streaming-item": delta.item_id, "data-kind": delta.kind },
        el("span", { class: "muted", text: "streaming… " }),
        el("div", { class: "streaming-text" }),
      );
      timeline.append(block);
    }
    return block.querySelector(".streaming-text");
  }

  return {
    // One coalesced delta: its text is appended to what the item showed so far.
    add(delta) {
      if (!delta || !SHOWN_KINDS.has(delta.kind) || !delta.item_id) return;
      const text = (texts.get(delta.item_id) || "") + (delta.text || "");
      texts.set(delta.item_id, text);
      const target = blockFor(delta);
      if (delta.kind === "agent_message") target.replaceChildren(markdown(text));
      else target.textContent = text;
    },
    // The item's durable record arrived: its preview goes.
    complete(itemId) {
      if (!itemId) return;
      texts.delete(itemId);
      const block = timeline.querySelector(selector("data-streaming-item", itemId));
      if (block) block.remove();
    },
    // A turn that ended leaves nothing streaming (an interrupted message never completes).
    clear() {
      texts.clear();
      for (const block of timeline.querySelectorAll("li[data-streaming-item]")) block.remove();
    },
    // The stream stopped sending deltas to this slow page: say so on what is left growing.
    paused() {
      for (const block of timeline.querySelectorAll("li[data-streaming-item] > .muted")) {
        block.textContent = "streaming paused, the completed item follows… ";
      }
    },
  };
}
