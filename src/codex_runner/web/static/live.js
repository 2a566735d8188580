// Live feeds: Server-Sent Events with a listener for every event type.
const eventTypes = JSON.parse(document.body.dataset.eventTypes || "[]");

function setLive(live) {
  const badge = document.getElementById("live");
  if (!badge) return;
  badge.hidden = false;
  badge.textContent = live ? "live" : "reconnecting…";
  badge.className = live ? "live on" : "live off";
}

// An EventSource with a listener for every event type; onOpen runs on each (re)connect,
// so a view re-reads what it shows and nothing is lost while it was away.
export function follow(url, onEvent, onOpen) {
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
