// Building the page: elements from data (text nodes only, never HTML strings), formatting,
// status badges and progress bars. Everything a screen reader needs is set here too.

export const TASK_STATES = [
  "RUNNING", "INTERRUPTING", "STARTING", "SCHEDULED", "ASSIGNED", "READY", "PENDING",
  "SUSPENDED", "CANCELED", "FAILED", "NOT_COMPATIBLE", "SUCCEEDED",
];

/** h("a", {href: "/x", class: "k"}, "text", child) -> element. Props starting with "on" are listeners. */
export function h(tag, props, ...children) {
  const svg = tag.startsWith("svg:");
  const el = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4))
                 : document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "checked" || key === "value" || key === "indeterminate") {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function fmtTime(value) {
  if (!value) return "";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleString(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
}

export function timeElement(value) {
  if (!value) return h("span", {class: "muted"}, "—");
  const date = new Date(value);
  return h("time", {datetime: date.toISOString(), title: date.toISOString()}, fmtTime(value));
}

export function fmtDuration(start, end) {
  if (!start) return "";
  const ms = (end ? new Date(end) : new Date()) - new Date(start);
  if (!(ms >= 0)) return "";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  const hours = Math.floor(m / 60);
  return `${hours} h ${m % 60} min`;
}

export function statusBadge(status) {
  const text = status || "UNKNOWN";
  return h("span", {class: `badge s-${text.toLowerCase()}`}, text.replaceAll("_", " "));
}

/** A stacked bar of task counts by state, with a text equivalent for assistive technology. */
export function progressBar(counts, label) {
  counts = counts || {};
  const total = Object.values(counts).reduce((a, b) => a + (b || 0), 0);
  const done = counts.SUCCEEDED || 0;
  const parts = TASK_STATES.filter((s) => counts[s]).map((s) => `${counts[s]} ${s.toLowerCase().replaceAll("_", " ")}`);
  const summary = total ? `${done} of ${total} tasks succeeded` + (parts.length ? ` (${parts.join(", ")})` : "")
                        : "no tasks";
  const bar = h("div", {
    class: "progress", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": total || 1,
    "aria-valuenow": done, "aria-valuetext": summary, "aria-label": label || "Task progress", title: summary,
  });
  for (const state of TASK_STATES) {
    const n = counts[state];
    if (!n) continue;
    const segment = h("span", {class: `seg s-${state.toLowerCase()}`});
    segment.style.flexGrow = String(n); // CSSOM: allowed by the page's style-src 'self'
    bar.append(segment);
  }
  return h("div", {class: "progress-wrap"}, bar, h("span", {class: "progress-text"}, total ? `${done}/${total}` : "0"));
}

export function parametersList(parameters) {
  const entries = Object.entries(parameters || {});
  if (!entries.length) return h("span", {class: "muted"}, "none");
  return h("dl", {class: "params"}, entries.map(([name, value]) => [
    h("dt", null, name), h("dd", null, paramValue(value)),
  ]));
}

export function paramValue(value) {
  if (value && typeof value === "object") {
    const inner = Object.values(value)[0];
    return inner === undefined ? JSON.stringify(value) : String(inner);
  }
  return String(value);
}

export function paramsInline(parameters) {
  return Object.entries(parameters || {}).map(([k, v]) => `${k}=${paramValue(v)}`).join(" ");
}

let announcer = null;

/** Say something to screen readers (and show it briefly): results of actions, refusals. */
export function announce(message, kind = "info") {
  if (!announcer) {
    announcer = h("div", {id: "announce", class: "toast", role: "status", "aria-live": "polite"});
    document.body.append(announcer);
  }
  clear(announcer).append(h("span", {class: `toast-${kind}`}, message));
  announcer.classList.add("shown");
  clearTimeout(announce.timer);
  announce.timer = setTimeout(() => announcer.classList.remove("shown"), kind === "error" ? 12000 : 5000);
}

export function sessionIdOf(actionId) {
  // sessionaction-<x>-<n> -> session-<x>
  const prefix = "sessionaction-";
  if (!actionId || !actionId.startsWith(prefix)) return null;
  const body = actionId.slice(prefix.length);
  const cut = body.lastIndexOf("-");
  return cut > 0 ? "session-" + body.slice(0, cut) : null;
}
