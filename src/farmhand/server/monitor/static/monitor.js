// The farmhand monitor: routes, layout, live refresh, keyboard and theme. Views live in views-*.js.

import {ApiError, CSRF, SIGN_OUT, USER, deadline} from "./api.js";
import {announce, clear, h} from "./dom.js";
import {connect, onStatus, setProbe, subscribe} from "./live.js";
import {farmView, farmsView, fleetView, workerView} from "./views-farm.js";
import {jobView, queueView} from "./views-jobs.js";
import {sessionView, stepView} from "./views-tasks.js";

const ID = "([a-z]+-[0-9a-f]+(?:-[0-9]+)?)";
const ROUTES = [
  [new RegExp(`^/$`), farmsView],
  [new RegExp(`^/farms/?$`), farmsView],
  [new RegExp(`^/farms/${ID}$`), farmView, ["farmId"]],
  [new RegExp(`^/farms/${ID}/queues/${ID}$`), queueView, ["farmId", "queueId"]],
  [new RegExp(`^/farms/${ID}/queues/${ID}/jobs/${ID}$`), jobView, ["farmId", "queueId", "jobId"]],
  [new RegExp(`^/farms/${ID}/queues/${ID}/jobs/${ID}/steps/${ID}$`), stepView,
   ["farmId", "queueId", "jobId", "stepId"]],
  [new RegExp(`^/farms/${ID}/queues/${ID}/jobs/${ID}/sessions/${ID}$`), sessionView,
   ["farmId", "queueId", "jobId", "sessionId"]],
  [new RegExp(`^/farms/${ID}/fleets/${ID}$`), fleetView, ["farmId", "fleetId"]],
  [new RegExp(`^/farms/${ID}/fleets/${ID}/workers/${ID}$`), workerView, ["farmId", "fleetId", "workerId"]],
];

const REFRESH_GAP_MS = 250;

const app = {
  main: null,
  crumbs: null,
  current: null, // {view, params, query, path, state, topics}
  refreshing: false,
  pending: null,
  lastRefresh: 0,
};

// ---- layout ----------------------------------------------------------------------------------

function layout() {
  const csrf = h("input", {type: "hidden", name: "csrf", value: CSRF});
  const theme = h("button", {type: "button", class: "ghost", id: "theme-toggle", onclick: cycleTheme});
  const liveState = h("span", {class: "live", id: "live-state", role: "status", "aria-live": "polite"}, "connecting");
  app.crumbs = h("ol", {class: "crumbs"});
  const header = h("header", {class: "top"},
    h("a", {class: "brand", href: "/", "aria-label": "farmhand monitor: farms"}, "farmhand"),
    h("nav", {"aria-label": "Breadcrumb"}, app.crumbs),
    h("div", {class: "top-right"},
      liveState,
      theme,
      h("button", {type: "button", class: "ghost", "aria-label": "Keyboard shortcuts", onclick: showHelp}, "?"),
      h("span", {class: "user", title: "Signed in user"}, USER),
      h("form", {method: "post", action: SIGN_OUT, class: "inline"}, csrf,
        h("button", {type: "submit", class: "ghost"}, "Sign out"))));
  app.main = h("main", {id: "main", tabindex: "-1"});
  document.body.append(header, app.main);
  onStatus((state) => {
    liveState.textContent = state === "live" ? "live" : "reconnecting…";
    liveState.className = `live ${state}`;
  });
  applyTheme();
}

function setCrumbs(crumbs) {
  clear(app.crumbs);
  crumbs.forEach((crumb, index) => {
    const last = index === crumbs.length - 1;
    app.crumbs.append(h("li", null, last
      ? h("span", {"aria-current": "page"}, crumb.label)
      : h("a", {href: crumb.href}, crumb.label)));
  });
}

// ---- theme -------------------------------------------------------------------------------------

function applyTheme() {
  const chosen = localStorage.getItem("farmhand-theme") || "auto";
  if (chosen === "auto") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = chosen;
  const button = document.getElementById("theme-toggle");
  if (button) {
    const next = {auto: "dark", dark: "light", light: "auto"}[chosen];
    button.textContent = `Theme: ${chosen}`;
    button.setAttribute("aria-label", `Theme ${chosen}; switch to ${next}`);
  }
}

function cycleTheme() {
  const chosen = localStorage.getItem("farmhand-theme") || "auto";
  localStorage.setItem("farmhand-theme", {auto: "dark", dark: "light", light: "auto"}[chosen]);
  applyTheme();
}

// ---- routing -------------------------------------------------------------------------------------

function match(path) {
  for (const [pattern, view, names] of ROUTES) {
    const found = pattern.exec(path);
    if (found) {
      const params = {};
      (names || []).forEach((name, i) => { params[name] = found[i + 1]; });
      return {view, params};
    }
  }
  return null;
}

export function navigate(href, {replace = false} = {}) {
  const url = new URL(href, location.href);
  if (url.origin !== location.origin) { location.assign(href); return; }
  if (replace) history.replaceState(null, "", url.pathname + url.search);
  else history.pushState(null, "", url.pathname + url.search);
  route();
}

function route() {
  const found = match(location.pathname.replace(/\/+$/, "") || "/");
  const query = new URLSearchParams(location.search);
  if (!found) {
    app.current = null;
    setCrumbs([{label: "Farms", href: "/"}, {label: "Not found"}]);
    clear(app.main).append(h("h1", null, "No such page"), h("p", null, h("a", {href: "/"}, "Back to the farms")));
    return;
  }
  const samePage = app.current && app.current.path === location.pathname;
  app.current = {
    view: found.view, params: found.params, query, path: location.pathname,
    state: samePage ? app.current.state : {}, topics: new Set(["deadline"]),
  };
  app.main.setAttribute("aria-busy", "true");  // what is shown belongs to the previous address until swap
  render({navigated: true});
}

/** Re-render the current view: after navigation, or when the farm changed (live). */
async function render({navigated = false} = {}) {
  const current = app.current;
  if (!current) return;
  if (app.refreshing) { app.pending = {navigated: app.pending?.navigated || navigated}; return; }
  app.refreshing = true;
  app.lastRefresh = Date.now();
  const ctx = {
    ...current.params, params: current.params, query: current.query, state: current.state,
    navigate, refresh: () => scheduleRefresh(new Set(["deadline", "logs"])),
    setTopics: (topics) => { current.topics = new Set(topics); },
  };
  let result;
  try {
    result = await current.view(ctx);
  } catch (error) {
    result = errorView(error);
  }
  app.refreshing = false;
  if (app.current !== current) { if (app.current) render({navigated: true}); return; }
  swap(result, navigated);
  if (app.pending) {
    const again = app.pending;
    app.pending = null;
    render(again);
  }
}

function errorView(error) {
  console.error(error);
  const refused = error instanceof ApiError && error.refused;
  const missing = error instanceof ApiError && error.code === "ResourceNotFoundException";
  const title = refused ? "Not allowed" : missing ? "Not found" : "Something went wrong";
  return {
    title, crumbs: [{label: "Farms", href: "/"}, {label: title}],
    body: h("section", {class: "panel error-panel", role: "alert"},
      h("h1", null, title), h("p", null, error.message || String(error)),
      h("p", null, h("a", {href: "/"}, "Back to the farms"))),
  };
}

/** Replace the main content, keeping focus, typed text and scroll where they were. */
function swap(result, navigated) {
  document.title = `${result.title} · farmhand`;
  setCrumbs(result.crumbs || []);
  const active = document.activeElement;
  const focusKey = active && app.main.contains(active) ? active.dataset.key : null;
  const kept = {};
  for (const input of app.main.querySelectorAll("input[data-key], select[data-key], textarea[data-key]")) {
    if (input.type !== "checkbox" && input === active) kept[input.dataset.key] = [input.value, input.selectionStart, input.selectionEnd];
  }
  const scroll = window.scrollY;
  clear(app.main).append(result.body);
  app.main.removeAttribute("aria-busy");
  if (result.after) result.after();
  if (navigated) {
    window.scrollTo(0, 0);
    const heading = app.main.querySelector("h1");
    (heading || app.main).setAttribute("tabindex", "-1");
    if (!focusKey) (heading || app.main).focus({preventScroll: true});
    return;
  }
  for (const [key, [value, start, end]] of Object.entries(kept)) {
    const input = app.main.querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (input) { input.value = value; try { input.setSelectionRange(start, end); } catch { /* not text */ } }
  }
  if (focusKey) app.main.querySelector(`[data-key="${CSS.escape(focusKey)}"]`)?.focus({preventScroll: true});
  window.scrollTo(0, scroll);
}

function scheduleRefresh(topics) {
  const current = app.current;
  if (!current) return;
  if (!topics.has("reconnect") && ![...topics].some((t) => current.topics.has(t))) return;
  if (document.querySelector("dialog[open]")) { app.dirtyBehindDialog = true; return; }
  const wait = Math.max(0, app.lastRefresh + REFRESH_GAP_MS - Date.now());
  clearTimeout(app.refreshTimer);
  app.refreshTimer = setTimeout(() => render(), wait);
}

document.addEventListener("close", (event) => {
  if (event.target instanceof HTMLDialogElement && app.dirtyBehindDialog) {
    app.dirtyBehindDialog = false;
    scheduleRefresh(new Set(["reconnect"]));
  }
}, true);

// ---- keyboard ------------------------------------------------------------------------------------

const SHORTCUTS = [
  ["j / k", "Next / previous row"],
  ["x", "Select or unselect the focused row"],
  ["Enter", "Open the focused row"],
  ["/", "Search"],
  ["u", "Up one level"],
  ["t", "Switch theme"],
  ["?", "This help"],
];

function showHelp() {
  const dialog = h("dialog", {class: "dialog", "aria-labelledby": "help-title"},
    h("h2", {id: "help-title"}, "Keyboard shortcuts"),
    h("table", {class: "grid"}, h("tbody", null, SHORTCUTS.map(([key, what]) =>
      h("tr", null, h("th", {scope: "row"}, h("kbd", null, key)), h("td", null, what))))),
    h("form", {method: "dialog"}, h("button", {type: "submit"}, "Close")));
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
}

function moveRow(step) {
  const links = [...app.main.querySelectorAll("a.row-link")];
  if (!links.length) return;
  const index = links.indexOf(document.activeElement);
  const next = links[Math.min(links.length - 1, Math.max(0, index === -1 ? 0 : index + step))];
  next.focus();
  next.closest("tr")?.scrollIntoView({block: "nearest"});
}

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement ||
      target instanceof HTMLSelectElement || document.querySelector("dialog[open]")) return;
  const key = event.key;
  if (key === "j" || key === "k") { event.preventDefault(); moveRow(key === "j" ? 1 : -1); }
  else if (key === "x") {
    const box = document.activeElement?.closest("tr")?.querySelector("input[type=checkbox]");
    if (box) { event.preventDefault(); box.click(); }
  } else if (key === "/") {
    const search = app.main.querySelector("[data-key=search]");
    if (search) { event.preventDefault(); search.focus(); }
  } else if (key === "u") {
    const links = app.crumbs.querySelectorAll("a");
    if (links.length) { event.preventDefault(); navigate(links[links.length - 1].href); }
  } else if (key === "t") { cycleTheme(); }
  else if (key === "?") { event.preventDefault(); showHelp(); }
});

// Same-site links navigate inside the page (no reload); anything else is left to the browser.
document.addEventListener("click", (event) => {
  const link = event.target.closest?.("a[href]");
  if (!link || event.defaultPrevented || event.button !== 0 || event.ctrlKey || event.metaKey ||
      event.shiftKey || link.target || link.hasAttribute("download")) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || !match(url.pathname.replace(/\/+$/, "") || "/")) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
});

window.addEventListener("popstate", route);

// ---- start -----------------------------------------------------------------------------------------

layout();
subscribe(scheduleRefresh);
setProbe(() => deadline("ListFarms", {maxResults: 1}));
connect();
route();
window.farmhandMonitor = {navigate, announce};
