// A log stream on the page: its end first, new lines as they arrive (live tail), a filter over the
// lines shown, a search of the whole stream on the farm (FilterLogEvents), and a download.

import {ApiError, logs} from "./api.js";
import {announce, clear, h} from "./dom.js";
import {subscribe} from "./live.js";

const TAIL_LINES = 1000;
const MAX_SHOWN = 20000;

function stamp(ms) {
  const date = new Date(ms);
  return date.toLocaleTimeString(undefined, {hour12: false});
}

class LogPanel {
  constructor(group, stream, label) {
    this.group = group;
    this.stream = stream;
    this.label = label;
    this.forward = null;
    this.count = 0;
    this.missing = false;
    this.busy = false;
    this.again = false;
    this.lines = h("div", {class: "log", role: "log", tabindex: "0", "aria-label": label});
    this.status = h("span", {class: "muted small", "aria-live": "polite"});
    this.filterInput = h("input", {type: "search", "data-key": "log-filter", id: "log-filter",
      placeholder: "filter shown lines", oninput: () => this.applyFilter()});
    this.follow = h("input", {type: "checkbox", id: "log-follow", checked: true});
    this.results = h("div", {class: "log-results", "aria-live": "polite"});
    this.element = h("section", {class: "panel log-panel", "aria-label": label},
      h("div", {class: "log-tools", role: "toolbar", "aria-label": "Log tools"},
        h("label", {for: "log-filter"}, "Filter"), this.filterInput,
        h("button", {type: "button", onclick: () => this.searchAll()}, "Search whole log"),
        h("label", {class: "check", for: "log-follow"}, this.follow, " Follow"),
        h("button", {type: "button", onclick: () => this.download()}, "Download"),
        this.status),
      this.results, this.lines);
    this.lines.addEventListener("scroll", () => {
      this.scrollTop = this.lines.scrollTop;
      const atEnd = this.lines.scrollTop + this.lines.clientHeight >= this.lines.scrollHeight - 4;
      if (!atEnd && this.follow.checked && this.userScrolled) this.follow.checked = false;
    });
    this.lines.addEventListener("wheel", () => { this.userScrolled = true; }, {passive: true});
    this.unsubscribe = subscribe((topics) => {
      if (!this.element.isConnected) { this.unsubscribe(); return; }
      if (topics.has("logs") || topics.has("reconnect")) this.poll();
    });
    this.poll();
  }

  /** Re-attached by a refresh of its page: put the scroll position back. */
  restore() {
    if (this.follow.checked) this.lines.scrollTop = this.lines.scrollHeight;
    else if (this.scrollTop !== undefined) this.lines.scrollTop = this.scrollTop;
  }

  async poll() {
    if (this.busy) { this.again = true; return; }
    this.busy = true;
    try {
      do {
        this.again = false;
        await this.readNew();
      } while (this.again);
    } finally {
      this.busy = false;
    }
  }

  async readNew() {
    const params = {logGroupName: this.group, logStreamName: this.stream};
    try {
      if (this.forward === null) {
        const page = await logs("GetLogEvents", {...params, startFromHead: false, limit: TAIL_LINES});
        this.append(page.events || []);
        this.forward = page.nextForwardToken;
        if ((page.events || []).length >= TAIL_LINES) this.status.textContent = `showing the last ${TAIL_LINES} lines and what follows`;
      } else {
        for (let i = 0; i < 50; i++) {
          const page = await logs("GetLogEvents", {...params, startFromHead: true, nextToken: this.forward, limit: 10000});
          const events = page.events || [];
          this.append(events);
          const moved = page.nextForwardToken && page.nextForwardToken !== this.forward;
          this.forward = page.nextForwardToken || this.forward;
          if (!events.length || !moved) break;
        }
      }
      this.missing = false;
    } catch (error) {
      if (error instanceof ApiError && error.code === "ResourceNotFoundException") {
        this.missing = true;
        this.status.textContent = "no log yet";
        return;
      }
      this.status.textContent = `log not readable: ${error.message}`;
    }
  }

  append(events) {
    if (!events.length) return;
    const fragment = document.createDocumentFragment();
    const term = this.filterInput.value.toLowerCase();
    for (const event of events) {
      const line = h("div", {class: "line"}, h("span", {class: "ts"}, stamp(event.timestamp)), " ", event.message);
      line.dataset.text = event.message.toLowerCase();
      if (term && !line.dataset.text.includes(term)) line.hidden = true;
      fragment.append(line);
    }
    this.lines.append(fragment);
    this.count += events.length;
    while (this.lines.childElementCount > MAX_SHOWN) this.lines.firstElementChild.remove();
    if (!this.status.textContent.startsWith("showing")) this.status.textContent = `${this.count} lines`;
    if (this.follow.checked) this.lines.scrollTop = this.lines.scrollHeight;
  }

  applyFilter() {
    const term = this.filterInput.value.toLowerCase();
    let shown = 0;
    for (const line of this.lines.children) {
      line.hidden = Boolean(term) && !line.dataset.text.includes(term);
      if (!line.hidden) shown++;
    }
    this.status.textContent = term ? `${shown} matching lines` : `${this.count} lines`;
  }

  async searchAll() {
    const term = this.filterInput.value.trim();
    clear(this.results);
    if (!term) { announce("Type what to search for in the filter box first."); return; }
    try {
      const found = await logs("FilterLogEvents", {logGroupName: this.group, logStreamNames: [this.stream],
        filterPattern: `"${term.replaceAll('"', "")}"`, limit: 500});
      const events = found.events || [];
      this.results.append(h("p", {class: "small"}, `${events.length} line(s) of the whole log contain “${term}”`),
        events.length ? h("div", {class: "log short"}, events.map((e) =>
          h("div", {class: "line"}, h("span", {class: "ts"}, stamp(e.timestamp)), " ", e.message))) : null);
    } catch (error) {
      this.results.append(h("p", {role: "alert"}, `Search failed: ${error.message}`));
    }
  }

  async download() {
    const chunks = [];
    let token = null;
    try {
      for (let i = 0; i < 1000; i++) {
        const page = await logs("GetLogEvents", {logGroupName: this.group, logStreamName: this.stream,
          startFromHead: true, limit: 10000, ...(token ? {nextToken: token} : {})});
        const events = page.events || [];
        for (const e of events) chunks.push(`${new Date(e.timestamp).toISOString()} ${e.message}\n`);
        if (!events.length || page.nextForwardToken === token) break;
        token = page.nextForwardToken;
      }
    } catch (error) {
      announce(`Download failed: ${error.message}`, "error");
      return;
    }
    const url = URL.createObjectURL(new Blob(chunks, {type: "text/plain"}));
    const link = h("a", {href: url, download: `${this.stream}.log`});
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }
}

/** The panel of `stream` kept in a view's state, so a refresh of the page keeps its lines. */
export function logPanel(state, group, stream, label) {
  if (!state.logPanel || state.logPanel.stream !== stream || state.logPanel.group !== group) {
    state.logPanel?.unsubscribe();
    state.logPanel = new LogPanel(group, stream, label);
  }
  return state.logPanel;
}
