// Live updates: one EventSource per page on /monitor/events. The farm sends the change counters of
// each topic ("deadline", "logs") when they move; listeners re-read what they show. The browser
// reconnects by itself when the server restarts; after any reconnect every listener refreshes,
// since changes may have been missed while the stream was down.

const listeners = new Set();
let source = null;
let last = null;
let retryTimer = null;
let statusCallback = () => {};
let probe = async () => {};

export function onStatus(callback) { statusCallback = callback; }
/** Called before reconnecting a stream the browser gave up on (it may have been a sign-out). */
export function setProbe(callback) { probe = callback; }

/** callback(topics: Set<string>) whenever the farm changed; returns an unsubscribe function. */
export function subscribe(callback) {
  listeners.add(callback);
  return () => listeners.delete(callback);
}

function fire(topics) {
  for (const listener of [...listeners]) {
    try { listener(topics); } catch (error) { console.error(error); }
  }
}

function changedTopics(previous, now) {
  if (!previous || previous.instance !== now.instance) return new Set(["deadline", "logs", "restart"]);
  const topics = new Set();
  for (const topic of ["deadline", "logs"]) if (previous[topic] !== now[topic]) topics.add(topic);
  return topics;
}

export function connect() {
  if (source) return;
  source = new EventSource("/monitor/events");
  source.addEventListener("hello", (event) => {
    const now = JSON.parse(event.data);
    const first = last === null;
    const topics = changedTopics(last, now);
    last = now;
    statusCallback("live");
    if (!first) fire(new Set(["deadline", "logs", "reconnect", ...topics]));
  });
  source.addEventListener("change", (event) => {
    const now = JSON.parse(event.data);
    const topics = changedTopics(last, now);
    last = now;
    if (topics.size) fire(topics);
  });
  source.addEventListener("signedout", () => {
    disconnect();
    window.location.assign(`/signin?next=${encodeURIComponent(location.pathname + location.search)}`);
  });
  source.onerror = () => {
    statusCallback("reconnecting");
    if (source && source.readyState === EventSource.CLOSED) {
      // The browser gave up (e.g. an error status): try again ourselves.
      source = null;
      clearTimeout(retryTimer);
      retryTimer = setTimeout(async () => {
        try { await probe(); } catch { /* the server may still be down: connect() retries */ }
        connect();
      }, 1000);
    }
  };
}

export function disconnect() {
  clearTimeout(retryTimer);
  if (source) source.close();
  source = null;
}
