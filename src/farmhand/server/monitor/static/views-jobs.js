// A queue's jobs (search, filter, sort, pages, multi-select, bulk actions) and one job (facts,
// actions, why, parameters, attachments, steps with their dependency graph, sessions per worker).

import {
  askJobEdits, askPriority, askStates, confirmAction, requeueTasksInStates, setSchedulingOfQueue,
  updateJob, updateJobs,
} from "./actions.js";
import {ApiError, call, deadline, hasService, listAll, logs} from "./api.js";
import {
  fmtDuration, fmtTime, h, parametersList, paramsInline, progressBar, sessionIdOf, statusBadge, timeElement,
} from "./dom.js";

export const PAGE_SIZE = 50;
const UNFINISHED = new Set(["PENDING", "READY", "ASSIGNED", "STARTING", "SCHEDULED", "RUNNING", "INTERRUPTING"]);
const JOB_STATES = ["RUNNING", "READY", "PENDING", "SUSPENDED", "FAILED", "CANCELED", "SUCCEEDED", "NOT_COMPATIBLE"];
const SORTS = {
  newest: ["CREATED_AT", "DESCENDING", "Newest first"],
  oldest: ["CREATED_AT", "ASCENDING", "Oldest first"],
  priority: ["PRIORITY", "DESCENDING", "Highest priority first"],
  name: ["NAME", "ASCENDING", "Name"],
  status: ["TASK_RUN_STATUS", "ASCENDING", "Status"],
  submitter: ["CREATED_BY", "ASCENDING", "Submitter"],
};

export function farmCrumbs(farm, extra = []) {
  return [{label: "Farms", href: "/"}, {label: farm.displayName || farm.farmId, href: `/farms/${farm.farmId}`}, ...extra];
}

export function jobHref(ctx, jobId) {
  return `/farms/${ctx.farmId}/queues/${ctx.queueId}/jobs/${jobId}`;
}

// ---- the queue: its jobs ---------------------------------------------------------------------------

function jobFilters(query) {
  const filters = [];
  const status = query.get("status");
  if (status) filters.push({stringFilter: {name: "TASK_RUN_STATUS", operator: "EQUAL", value: status}});
  const submitter = query.get("submitter");
  if (submitter) filters.push({stringFilter: {name: "CREATED_BY", operator: "EQUAL", value: submitter}});
  const term = query.get("q");
  if (term) filters.push({searchTermFilter: {searchTerm: term, matchType: "CONTAINS"}});
  return filters;
}

export async function queueView(ctx) {
  const page = Math.max(0, Number(ctx.query.get("page") || 0));
  const sortKey = SORTS[ctx.query.get("sort")] ? ctx.query.get("sort") : "newest";
  const [field, order] = SORTS[sortKey];
  const filters = jobFilters(ctx.query);
  const [farm, queue, found, associations] = await Promise.all([
    deadline("GetFarm", {farmId: ctx.farmId}),
    deadline("GetQueue", {farmId: ctx.farmId, queueId: ctx.queueId}),
    deadline("SearchJobs", {
      farmId: ctx.farmId, queueIds: [ctx.queueId], itemOffset: Math.min(page * PAGE_SIZE, 10000),
      pageSize: PAGE_SIZE, sortExpressions: [{fieldSort: {name: field, sortOrder: order}}],
      ...(filters.length ? {filterExpressions: {operator: "AND", filters}} : {}),
    }),
    listAll("ListQueueFleetAssociations", {farmId: ctx.farmId, queueId: ctx.queueId}, "queueFleetAssociations"),
  ]);
  const jobs = found.jobs || [];
  const selected = ctx.state.selected || (ctx.state.selected = new Set());
  for (const id of [...selected]) if (!jobs.some((j) => j.jobId === id)) selected.delete(id);

  const title = queue.displayName || queue.queueId;
  return {
    title,
    crumbs: farmCrumbs(farm, [{label: title}]),
    body: h("div", null,
      h("div", {class: "page-head"},
        h("h1", null, title, " ", statusBadge(queue.status)),
        schedulingControls(ctx, associations)),
      queue.description ? h("p", {class: "muted"}, queue.description) : null,
      filterBar(ctx, sortKey),
      bulkBar(ctx, jobs, selected),
      jobsTable(ctx, jobs, selected),
      pager(ctx, page, found.totalResults || 0)),
  };
}

function schedulingControls(ctx, associations) {
  if (!associations.length) return h("p", {class: "muted"}, "No fleet serves this queue.");
  const own = associations.map((a) => ({...a, farmId: ctx.farmId}));
  const active = own.filter((a) => a.status === "ACTIVE");
  return h("div", {class: "scheduling", role: "group", "aria-label": "Scheduling of this queue"},
    h("span", null, "Fleets: ", own.map((a, i) => [i ? ", " : "",
      h("a", {href: `/farms/${ctx.farmId}/fleets/${a.fleetId}`}, a.fleetId), " ", statusBadge(a.status)])),
    active.length
      ? h("button", {type: "button", onclick: async () => {
        if (await setSchedulingOfQueue(active, "STOP_SCHEDULING_AND_COMPLETE_TASKS", "Stop scheduling")) ctx.refresh();
      }}, "Stop scheduling")
      : h("button", {type: "button", onclick: async () => {
        if (await setSchedulingOfQueue(own, "ACTIVE", "Start scheduling")) ctx.refresh();
      }}, "Start scheduling"));
}

function filterBar(ctx, sortKey) {
  const q = ctx.query;
  const form = h("form", {class: "filters", role: "search", "aria-label": "Filter jobs", onsubmit: (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const next = new URLSearchParams();
    for (const key of ["q", "status", "submitter", "sort"]) {
      const value = String(data.get(key) || "").trim();
      if (value && !(key === "sort" && value === "newest")) next.set(key, value);
    }
    ctx.navigate(`${location.pathname}${next.toString() ? "?" + next : ""}`, {replace: false});
  }},
  h("label", {for: "job-search"}, "Search"),
  h("input", {id: "job-search", name: "q", type: "search", value: q.get("q") || "", "data-key": "search",
              placeholder: "name or id"}),
  h("label", {for: "job-status"}, "Status"),
  h("select", {id: "job-status", name: "status", "data-key": "status"},
    h("option", {value: ""}, "any"),
    JOB_STATES.map((s) => h("option", {value: s, selected: q.get("status") === s}, s))),
  h("label", {for: "job-submitter"}, "Submitter"),
  h("input", {id: "job-submitter", name: "submitter", type: "text", value: q.get("submitter") || "",
              "data-key": "submitter", placeholder: "principal id"}),
  h("label", {for: "job-sort"}, "Sort"),
  h("select", {id: "job-sort", name: "sort", "data-key": "sort"},
    Object.entries(SORTS).map(([key, [, , label]]) => h("option", {value: key, selected: key === sortKey}, label))),
  h("button", {type: "submit"}, "Apply"));
  for (const select of form.querySelectorAll("select")) select.addEventListener("change", () => form.requestSubmit());
  return form;
}

function selectedJobs(ctx, jobs, selected) {
  return jobs.filter((j) => selected.has(j.jobId)).map((j) => ({farmId: ctx.farmId, queueId: ctx.queueId, ...j}));
}

function bulkBar(ctx, jobs, selected) {
  const count = selected.size;
  const act = (what, change, confirmText) => async () => {
    const chosen = selectedJobs(ctx, jobs, selected);
    if (!chosen.length) return;
    const label = `${what} ${chosen.length} job(s)`;  // never the dialog's own "Cancel"
    if (confirmText && !(await confirmAction(`${what} jobs`, `${confirmText} (${chosen.length} job(s))?`, label))) return;
    const ok = await updateJobs(chosen, change, `${what} ${chosen.length} job(s)`);
    if (ok) selected.clear();
    ctx.refresh();
  };
  const disabled = count === 0;
  return h("div", {class: "bulk", role: "toolbar", "aria-label": "Actions on the selected jobs"},
    h("span", {class: "bulk-count", "aria-live": "polite"}, count ? `${count} selected` : "Select jobs to act on them"),
    h("button", {type: "button", disabled, onclick: act("Cancel", {targetTaskRunStatus: "CANCELED"}, "Cancel the selected jobs")}, "Cancel"),
    h("button", {type: "button", disabled, onclick: act("Suspend", {targetTaskRunStatus: "SUSPENDED"})}, "Suspend"),
    h("button", {type: "button", disabled, onclick: act("Resume", {targetTaskRunStatus: "READY"})}, "Resume"),
    h("button", {type: "button", disabled, onclick: act("Requeue", {targetTaskRunStatus: "PENDING"}, "Run every task of the selected jobs again")}, "Requeue all"),
    h("button", {type: "button", disabled, onclick: async () => {
      const chosen = selectedJobs(ctx, jobs, selected);
      for (const job of chosen) await requeueTasksInStates(job, ["FAILED"], `Requeue failed tasks of ${job.name}`);
      ctx.refresh();
    }}, "Requeue failed"),
    h("button", {type: "button", disabled, onclick: async () => {
      const priority = await askPriority(50);
      if (priority === null) return;
      await updateJobs(selectedJobs(ctx, jobs, selected), {priority}, "Change priority");
      ctx.refresh();
    }}, "Priority…"),
    h("button", {type: "button", disabled, onclick: act("Archive", {lifecycleStatus: "ARCHIVED"}, "Archive the selected jobs")}, "Archive"));
}

function jobsTable(ctx, jobs, selected) {
  if (!jobs.length) return h("p", {class: "empty"}, "No job matches.");
  const all = jobs.every((j) => selected.has(j.jobId));
  const some = jobs.some((j) => selected.has(j.jobId));
  const toggleAll = h("input", {type: "checkbox", "aria-label": "Select every job on this page", checked: all,
    indeterminate: some && !all, "data-key": "select-all", onchange: (event) => {
      for (const j of jobs) { if (event.target.checked) selected.add(j.jobId); else selected.delete(j.jobId); }
      ctx.refresh();
    }});
  return h("table", {class: "grid jobs"},
    h("caption", {class: "sr-only"}, "Jobs of this queue"),
    h("thead", null, h("tr", null,
      h("th", {scope: "col", class: "select"}, toggleAll),
      h("th", {scope: "col"}, "Name"), h("th", {scope: "col"}, "Status"), h("th", {scope: "col"}, "Progress"),
      h("th", {scope: "col"}, "Priority"), h("th", {scope: "col"}, "Submitter"),
      h("th", {scope: "col"}, "Submitted"), h("th", {scope: "col"}, "Duration"), h("th", {scope: "col"}, "Why"))),
    h("tbody", null, jobs.map((job) => h("tr", {"data-row": job.jobId, class: selected.has(job.jobId) ? "selected" : ""},
      h("td", {class: "select"}, h("input", {type: "checkbox", "aria-label": `Select ${job.name}`,
        checked: selected.has(job.jobId), "data-key": `sel-${job.jobId}`, onchange: (event) => {
          if (event.target.checked) selected.add(job.jobId); else selected.delete(job.jobId);
          ctx.refresh();
        }})),
      h("td", null, h("a", {href: jobHref(ctx, job.jobId), class: "row-link", "data-key": `row-${job.jobId}`}, job.name),
        h("div", {class: "id"}, job.jobId)),
      h("td", null, statusBadge(job.taskRunStatus),
        job.targetTaskRunStatus && job.targetTaskRunStatus !== job.taskRunStatus
          ? h("div", {class: "muted small"}, `→ ${job.targetTaskRunStatus}`) : null),
      h("td", null, progressBar(job.taskRunStatusCounts, `Progress of ${job.name}`)),
      h("td", {class: "num"}, job.priority),
      h("td", null, job.createdBy || ""),
      h("td", null, timeElement(job.createdAt)),
      h("td", null, fmtDuration(job.startedAt, job.endedAt)),
      h("td", null, job.taskRunStatus !== "SUCCEEDED"
        ? h("button", {type: "button", class: "small", "aria-label": `Why is ${job.name} ${job.taskRunStatus}?`,
          onclick: () => openWhy(ctx, job)}, "Why?") : null)))));
}

function pager(ctx, page, total) {
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const reachable = Math.min(pages, Math.floor(10000 / PAGE_SIZE) + 1);
  const go = (n) => {
    const next = new URLSearchParams(location.search);
    if (n) next.set("page", String(n)); else next.delete("page");
    ctx.navigate(`${location.pathname}${next.toString() ? "?" + next : ""}`);
  };
  return h("nav", {class: "pager", "aria-label": "Pages of jobs"},
    h("button", {type: "button", disabled: page <= 0, onclick: () => go(page - 1)}, "‹ Previous"),
    h("span", null, `Page ${page + 1} of ${pages} · ${total} job${total === 1 ? "" : "s"}`),
    h("button", {type: "button", disabled: page + 1 >= reachable, onclick: () => go(page + 1)}, "Next ›"));
}

// ---- why -------------------------------------------------------------------------------------------

/** Why a job is where it is: the farm's explanation (ExplainJob) and each failed task's evidence. */
export async function whyContent(ctx, job) {
  const ids = {farmId: ctx.farmId, queueId: ctx.queueId, jobId: job.jobId};
  const parts = [];
  if (UNFINISHED.has(job.taskRunStatus) && await hasService("scheduling")) {
    try {
      const explanation = await call("scheduling", "ExplainJob", ids);
      const reasons = [...(explanation.reasons || []).map((r) => r.message),
        ...(explanation.steps || []).flatMap((s) => (s.reasons || []).filter((r) => r.code !== "FAILED")
          .map((r) => `${s.name}: ${r.message}`))];
      if (reasons.length) parts.push(h("ul", {class: "reasons"}, reasons.map((r) => h("li", null, r))));
    } catch (error) {
      parts.push(h("p", {class: "muted"}, `The farm did not explain the job: ${error.message}`));
    }
  }
  const found = await deadline("SearchTasks", {
    farmId: ctx.farmId, queueIds: [ctx.queueId], jobId: job.jobId, itemOffset: 0, pageSize: 5,
    filterExpressions: {operator: "AND", filters: [{stringFilter: {name: "TASK_RUN_STATUS", operator: "EQUAL", value: "FAILED"}}]},
  });
  const failed = found.tasks || [];
  if (failed.length) {
    parts.push(h("p", null, `${found.totalResults} failed task(s)${found.totalResults > failed.length ? `; the first ${failed.length}:` : ":"}`));
    parts.push(...await Promise.all(failed.map((task) => failedTaskCard(ctx, job, task))));
  }
  return parts;
}

async function failedTaskCard(ctx, job, task) {
  const sessionId = sessionIdOf(task.latestSessionActionId);
  const facts = [`failed runs: ${(task.failureRetryCount || 0) + 1}`];
  let message = null;
  let tail = [];
  if (task.latestSessionActionId) {
    try {
      const action = await deadline("GetSessionAction", {farmId: ctx.farmId, queueId: ctx.queueId, jobId: job.jobId,
        sessionActionId: task.latestSessionActionId});
      if (action.processExitCode !== undefined) facts.push(`exit code ${action.processExitCode}`);
      message = action.progressMessage || null;
      const session = await deadline("GetSession", {farmId: ctx.farmId, queueId: ctx.queueId, jobId: job.jobId, sessionId});
      if (session.workerId) facts.push(`worker ${session.workerId}`);
      const events = await logs("GetLogEvents", {logGroupName: `/aws/deadline/${ctx.farmId}/${ctx.queueId}`,
        logStreamName: sessionId, startFromHead: false, limit: 10,
        ...(action.endedAt ? {endTime: Date.parse(action.endedAt) + 1000} : {})});
      tail = (events.events || []).map((e) => e.message);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      facts.push(`(${error.message})`);
    }
  }
  const logHref = sessionId ? `/farms/${ctx.farmId}/queues/${ctx.queueId}/jobs/${job.jobId}/sessions/${sessionId}` : null;
  return h("article", {class: "failed-task"},
    h("h3", null, `${paramsInline(task.parameters) || task.taskId}`, " ", statusBadge("FAILED")),
    h("p", {class: "muted small"}, task.taskId, " · ", facts.join(" · ")),
    message ? h("p", {class: "error-text"}, message) : null,
    tail.length ? h("pre", {class: "log-tail", "aria-label": "End of the task's log"}, tail.join("\n")) : null,
    logHref ? h("a", {href: logHref, class: "log-link"}, "Open the log") : h("span", {class: "muted"}, "never ran, so no log"));
}

async function openWhy(ctx, job) {
  const body = h("div", {class: "why-body"}, h("p", null, "Looking…"));
  const titleId = "why-title";
  const dialog = h("dialog", {class: "dialog wide", "aria-labelledby": titleId},
    h("h2", {id: titleId}, `Why is ${job.name} ${job.taskRunStatus}?`), body,
    h("form", {method: "dialog"}, h("button", {type: "submit"}, "Close")));
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  try {
    const parts = await whyContent(ctx, job);
    body.replaceChildren(...(parts.length ? parts : [h("p", null, `The job is ${job.taskRunStatus}; no task has failed.`)]));
  } catch (error) {
    body.replaceChildren(h("p", {role: "alert"}, error.message));
  }
}

// ---- one job ------------------------------------------------------------------------------------------

function upstreamCount(step) {
  const counts = step.dependencyCounts || {};
  return (counts.dependenciesResolved || 0) + (counts.dependenciesUnresolved || 0);
}

export async function jobView(ctx) {
  const ids = {farmId: ctx.farmId, queueId: ctx.queueId, jobId: ctx.jobId};
  const [farm, queue, job, steps] = await Promise.all([
    deadline("GetFarm", {farmId: ctx.farmId}),
    deadline("GetQueue", {farmId: ctx.farmId, queueId: ctx.queueId}),
    deadline("GetJob", ids),
    listAll("ListSteps", ids, "steps", 1000),
  ]);
  const [dependencies, sessions, why] = await Promise.all([
    Promise.all(steps.slice(0, 100).map((s) => upstreamCount(s) === 0 ? [] :
      listAll("ListStepDependencies", {...ids, stepId: s.stepId}, "dependencies"))),
    listAll("ListSessions", ids, "sessions", 500),
    job.taskRunStatus === "SUCCEEDED" ? Promise.resolve([]) : whyContent(ctx, job).catch((e) => [h("p", null, e.message)]),
  ]);
  const upstream = new Map(steps.slice(0, 100).map((s, i) => [s.stepId, dependencies[i].map((d) => d.stepId)]));
  const title = job.name;
  return {
    title,
    crumbs: farmCrumbs(farm, [{label: queue.displayName, href: `/farms/${ctx.farmId}/queues/${ctx.queueId}`}, {label: title}]),
    body: h("div", null,
      h("div", {class: "page-head"},
        h("h1", null, title, " ", statusBadge(job.taskRunStatus)),
        jobActions(ctx, job)),
      progressBar(job.taskRunStatusCounts, "Progress of the job"),
      jobFacts(job),
      why.length ? h("section", {class: `panel why ${job.taskRunStatus === "FAILED" ? "bad" : ""}`, "aria-labelledby": "why-h"},
        h("h2", {id: "why-h"}, `Why ${job.taskRunStatus}`), why) : null,
      h("div", {class: "two"},
        h("section", {class: "panel", "aria-labelledby": "params-h"},
          h("h2", {id: "params-h"}, "Parameters"), parametersList(job.parameters)),
        h("section", {class: "panel", "aria-labelledby": "att-h"},
          h("h2", {id: "att-h"}, "Attachments"), attachmentsList(job.attachments))),
      h("section", {class: "panel", "aria-labelledby": "steps-h"},
        h("h2", {id: "steps-h"}, "Steps"),
        stepGraph(ctx, steps, upstream),
        stepsTable(ctx, steps, upstream)),
      h("section", {class: "panel", "aria-labelledby": "sessions-h"},
        h("h2", {id: "sessions-h"}, "Sessions by worker"),
        sessionTimeline(ctx, job, sessions))),
  };
}

function jobFacts(job) {
  const facts = [
    ["Job id", job.jobId], ["Priority", job.priority], ["Submitter", job.createdBy],
    ["Submitted", timeElement(job.createdAt)], ["Started", timeElement(job.startedAt)],
    ["Ended", timeElement(job.endedAt)], ["Duration", fmtDuration(job.startedAt, job.endedAt) || "—"],
    ["Lifecycle", job.lifecycleStatus + (job.lifecycleStatusMessage ? `: ${job.lifecycleStatusMessage}` : "")],
    ["Target status", job.targetTaskRunStatus || "—"],
    ["Most failed tasks", job.maxFailedTasksCount ?? "—"], ["Retries per task", job.maxRetriesPerTask ?? "—"],
    ["Most workers", job.maxWorkerCount === undefined || job.maxWorkerCount === -1 ? "no limit" : job.maxWorkerCount],
    ["Task failures so far", job.taskFailureRetryCount ?? 0],
  ];
  return h("div", null,
    job.description ? h("p", {class: "description"}, job.description) : null,
    h("dl", {class: "facts"}, facts.map(([k, v]) => [h("dt", null, k), h("dd", null, v === undefined ? "—" : v)])));
}

function jobActions(ctx, job) {
  const ids = {farmId: ctx.farmId, queueId: ctx.queueId, jobId: job.jobId};
  const run = (fn) => async () => { await fn(); ctx.refresh(); };
  return h("div", {class: "actions", role: "toolbar", "aria-label": "Job actions"},
    h("button", {type: "button", onclick: run(async () => {
      if (await confirmAction("Cancel job", `Cancel ${job.name}? Running tasks are stopped.`, "Cancel job"))
        await updateJob(ids, {targetTaskRunStatus: "CANCELED"}, "Cancel job");
    })}, "Cancel"),
    h("button", {type: "button", onclick: run(() => updateJob(ids, {targetTaskRunStatus: "SUSPENDED"}, "Suspend job"))}, "Suspend"),
    h("button", {type: "button", onclick: run(() => updateJob(ids, {targetTaskRunStatus: "READY"}, "Resume job"))}, "Resume"),
    h("button", {type: "button", onclick: run(async () => {
      if (await confirmAction("Requeue job", `Run every task of ${job.name} again?`, "Requeue all"))
        await updateJob(ids, {targetTaskRunStatus: "PENDING"}, "Requeue job");
    })}, "Requeue all"),
    h("button", {type: "button", onclick: run(() => requeueTasksInStates(ids, ["FAILED"], "Requeue failed tasks"))}, "Requeue failed"),
    h("button", {type: "button", onclick: run(async () => {
      const states = await askStates();
      if (states && states.length) await requeueTasksInStates(ids, states, `Requeue ${states.join(", ")} tasks`);
    })}, "Requeue by state…"),
    h("button", {type: "button", onclick: run(async () => {
      const priority = await askPriority(job.priority);
      if (priority !== null) await updateJob(ids, {priority}, "Change priority");
    })}, "Priority…"),
    h("button", {type: "button", onclick: run(async () => {
      const change = await askJobEdits(job);
      if (change && Object.keys(change).length) await updateJob(ids, change, "Edit job");
    })}, "Edit…"),
    h("button", {type: "button", onclick: run(async () => {
      if (await confirmAction("Archive job", `Archive ${job.name}?`, "Archive"))
        await updateJob(ids, {lifecycleStatus: "ARCHIVED"}, "Archive job");
    })}, "Archive"));
}

function attachmentsList(attachments) {
  const manifests = attachments?.manifests || [];
  if (!manifests.length) return h("p", {class: "muted"}, "none");
  return h("ul", {class: "attachments"}, manifests.map((m) => h("li", null,
    h("code", null, m.rootPath), m.fileSystemLocationName ? ` (${m.fileSystemLocationName})` : "",
    m.inputManifestPath ? h("div", {class: "muted small"}, `inputs: ${m.inputManifestPath}`) : null,
    (m.outputRelativeDirectories || []).length
      ? h("div", {class: "muted small"}, `outputs: ${m.outputRelativeDirectories.join(", ")}`) : null)));
}

function stepHref(ctx, stepId) {
  return `/farms/${ctx.farmId}/queues/${ctx.queueId}/jobs/${ctx.jobId}/steps/${stepId}`;
}

function stepsTable(ctx, steps, upstream) {
  const names = new Map(steps.map((s) => [s.stepId, s.name]));
  return h("table", {class: "grid"},
    h("caption", {class: "sr-only"}, "Steps of the job"),
    h("thead", null, h("tr", null, ["Step", "Status", "Progress", "Depends on", "Started", "Duration"]
      .map((c) => h("th", {scope: "col"}, c)))),
    h("tbody", null, steps.map((step) => h("tr", null,
      h("td", null, h("a", {href: stepHref(ctx, step.stepId), class: "row-link", "data-key": `step-${step.stepId}`}, step.name)),
      h("td", null, statusBadge(step.taskRunStatus)),
      h("td", null, progressBar(step.taskRunStatusCounts, `Progress of step ${step.name}`)),
      h("td", null, (upstream.get(step.stepId) || []).map((id) => names.get(id) || id).join(", ") || "—"),
      h("td", null, timeElement(step.startedAt)),
      h("td", null, fmtDuration(step.startedAt, step.endedAt))))));
}

/** The steps as boxes in columns by depth, with an arrow from each dependency to its consumer. */
function stepGraph(ctx, steps, upstream) {
  if (steps.length < 2 || steps.length > 100) return null;
  const depth = new Map();
  const depthOf = (id, seen = new Set()) => {
    if (depth.has(id)) return depth.get(id);
    if (seen.has(id)) return 0;
    seen.add(id);
    const ups = upstream.get(id) || [];
    const d = ups.length ? 1 + Math.max(...ups.map((u) => depthOf(u, seen))) : 0;
    depth.set(id, d);
    return d;
  };
  steps.forEach((s) => depthOf(s.stepId));
  if (![...upstream.values()].some((u) => u.length)) return null;
  const columns = [];
  for (const step of steps) (columns[depth.get(step.stepId)] ||= []).push(step);
  const W = 170, H = 46, GX = 60, GY = 18;
  const pos = new Map();
  columns.forEach((column, x) => column.forEach((step, y) => pos.set(step.stepId, [16 + x * (W + GX), 16 + y * (H + GY)])));
  const width = 32 + columns.length * (W + GX) - GX;
  const height = 32 + Math.max(...columns.map((c) => c.length)) * (H + GY) - GY;
  const svg = h("svg:svg", {viewBox: `0 0 ${width} ${height}`, width, height, class: "graph", role: "group",
    "aria-label": "Step dependency graph"});
  svg.append(h("svg:defs", null, h("svg:marker", {id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5,
    markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse"}, h("svg:path", {d: "M 0 0 L 10 5 L 0 10 z", class: "arrowhead"}))));
  for (const step of steps) {
    for (const up of upstream.get(step.stepId) || []) {
      const [x1, y1] = pos.get(up) || [0, 0];
      const [x2, y2] = pos.get(step.stepId);
      svg.append(h("svg:path", {class: "edge", "marker-end": "url(#arrow)",
        d: `M ${x1 + W} ${y1 + H / 2} C ${x1 + W + GX / 2} ${y1 + H / 2}, ${x2 - GX / 2} ${y2 + H / 2}, ${x2} ${y2 + H / 2}`}));
    }
  }
  for (const step of steps) {
    const [x, y] = pos.get(step.stepId);
    const counts = step.taskRunStatusCounts || {};
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    const label = `Step ${step.name}: ${step.taskRunStatus}, ${counts.SUCCEEDED || 0} of ${total} tasks succeeded`;
    svg.append(h("svg:a", {href: stepHref(ctx, step.stepId), "aria-label": label},
      h("svg:title", null, label),
      h("svg:rect", {x, y, width: W, height: H, rx: 6, class: `node s-${(step.taskRunStatus || "").toLowerCase()}`}),
      h("svg:text", {x: x + 10, y: y + 19, class: "node-name"}, step.name.length > 20 ? step.name.slice(0, 19) + "…" : step.name),
      h("svg:text", {x: x + 10, y: y + 36, class: "node-meta"}, `${step.taskRunStatus} · ${counts.SUCCEEDED || 0}/${total}`)));
  }
  return h("div", {class: "graph-wrap"}, svg);
}

/** Sessions as bars on one lane per worker, like `deadline job trace-schedule`. */
function sessionTimeline(ctx, job, sessions) {
  if (!sessions.length) return h("p", {class: "muted"}, "No session has run yet.");
  const now = Date.now();
  const start = Math.min(...sessions.map((s) => Date.parse(s.startedAt)));
  const end = Math.max(...sessions.map((s) => (s.endedAt ? Date.parse(s.endedAt) : now)), start + 1000);
  const workers = [...new Set(sessions.map((s) => s.workerId))].sort();
  const LANE = 26, LEFT = 285, WIDTH = 960;
  const scale = (t) => LEFT + ((t - start) / (end - start)) * (WIDTH - LEFT - 10);
  const height = 30 + workers.length * LANE;
  const svg = h("svg:svg", {viewBox: `0 0 ${WIDTH} ${height}`, class: "timeline", role: "group",
    "aria-label": `Sessions of the job on ${workers.length} worker(s), from ${fmtTime(start)} to ${fmtTime(end)}`});
  workers.forEach((worker, i) => {
    const y = 8 + i * LANE;
    svg.append(h("svg:text", {x: 4, y: y + 15, class: "lane-label"}, worker));
    svg.append(h("svg:line", {x1: LEFT, x2: WIDTH - 10, y1: y + LANE - 3, y2: y + LANE - 3, class: "lane-line"}));
  });
  for (const session of sessions) {
    const y = 8 + workers.indexOf(session.workerId) * LANE;
    const x1 = scale(Date.parse(session.startedAt));
    const x2 = scale(session.endedAt ? Date.parse(session.endedAt) : now);
    const label = `${session.sessionId} on ${session.workerId}: ${session.lifecycleStatus}, ` +
      `${fmtTime(session.startedAt)} – ${session.endedAt ? fmtTime(session.endedAt) : "now"} ` +
      `(${fmtDuration(session.startedAt, session.endedAt)})`;
    svg.append(h("svg:a", {href: `/farms/${ctx.farmId}/queues/${ctx.queueId}/jobs/${job.jobId}/sessions/${session.sessionId}`,
      "aria-label": label},
      h("svg:title", null, label),
      h("svg:rect", {x: x1, y: y + 3, width: Math.max(3, x2 - x1), height: LANE - 9, rx: 3,
        class: `bar l-${(session.lifecycleStatus || "").toLowerCase()}`})));
  }
  svg.append(h("svg:text", {x: LEFT, y: height - 4, class: "axis"}, fmtTime(start)));
  svg.append(h("svg:text", {x: WIDTH - 10, y: height - 4, class: "axis", "text-anchor": "end"}, fmtTime(end)));
  return h("div", {class: "timeline-wrap"}, svg);
}
