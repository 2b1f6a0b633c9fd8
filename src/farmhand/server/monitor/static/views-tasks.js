// A step's tasks (pages read on the farm, filter by status, multi-select, requeue and cancel) and a
// session (its actions and its log, live).

import {confirmAction, updateTasks} from "./actions.js";
import {deadline, listAll} from "./api.js";
import {fmtDuration, h, paramsInline, progressBar, sessionIdOf, statusBadge, timeElement} from "./dom.js";
import {logPanel} from "./logview.js";
import {farmCrumbs, jobHref} from "./views-jobs.js";

const TASK_PAGE = 100;
const TASK_STATES = ["READY", "PENDING", "ASSIGNED", "STARTING", "SCHEDULED", "RUNNING", "INTERRUPTING",
  "SUSPENDED", "CANCELED", "FAILED", "NOT_COMPATIBLE", "SUCCEEDED"];

async function parents(ctx) {
  return Promise.all([
    deadline("GetFarm", {farmId: ctx.farmId}),
    deadline("GetQueue", {farmId: ctx.farmId, queueId: ctx.queueId}),
    deadline("GetJob", {farmId: ctx.farmId, queueId: ctx.queueId, jobId: ctx.jobId}),
  ]);
}

function jobCrumbs(ctx, farm, queue, job, extra) {
  return farmCrumbs(farm, [
    {label: queue.displayName, href: `/farms/${ctx.farmId}/queues/${ctx.queueId}`},
    {label: job.name, href: jobHref(ctx, ctx.jobId)}, ...extra]);
}

function sessionHref(ctx, sessionId) {
  return `/farms/${ctx.farmId}/queues/${ctx.queueId}/jobs/${ctx.jobId}/sessions/${sessionId}`;
}

// ---- a step's tasks ---------------------------------------------------------------------------------

/**
 * One page of tasks: without a status filter, ListTasks pages (any size of step, page tokens kept
 * for going back); with one, SearchTasks by offset.
 */
async function taskPage(ctx, status, page) {
  const ids = {farmId: ctx.farmId, queueId: ctx.queueId, jobId: ctx.jobId, stepId: ctx.stepId};
  if (status) {
    const found = await deadline("SearchTasks", {
      farmId: ctx.farmId, queueIds: [ctx.queueId], jobId: ctx.jobId, itemOffset: Math.min(page * TASK_PAGE, 10000),
      pageSize: TASK_PAGE, filterExpressions: {operator: "AND", filters: [
        {stringFilter: {name: "STEP_ID", operator: "EQUAL", value: ctx.stepId}},
        {stringFilter: {name: "TASK_RUN_STATUS", operator: "EQUAL", value: status}}]},
    });
    const more = (page + 1) * TASK_PAGE < Math.min(found.totalResults || 0, 10000 + TASK_PAGE);
    return {tasks: found.tasks || [], more, total: found.totalResults};
  }
  const tokens = ctx.state.tokens || (ctx.state.tokens = [null]);
  if (page >= tokens.length) page = tokens.length - 1; // a page we have no token for: the last one we know
  const answer = await deadline("ListTasks", {...ids, maxResults: TASK_PAGE, ...(tokens[page] ? {nextToken: tokens[page]} : {})});
  if (answer.nextToken) tokens[page + 1] = answer.nextToken;
  return {tasks: answer.tasks || [], more: Boolean(answer.nextToken), page};
}

export async function stepView(ctx) {
  const status = ctx.query.get("status") || "";
  let page = Math.max(0, Number(ctx.query.get("page") || 0));
  const [[farm, queue, job], step] = await Promise.all([
    parents(ctx),
    deadline("GetStep", {farmId: ctx.farmId, queueId: ctx.queueId, jobId: ctx.jobId, stepId: ctx.stepId}),
  ]);
  const found = await taskPage(ctx, status, page);
  if (found.page !== undefined) page = found.page;
  const tasks = found.tasks;
  // The worker of each task's latest session: one BatchGetSession for the page.
  const sessionIds = [...new Set(tasks.map((t) => sessionIdOf(t.latestSessionActionId)).filter(Boolean))];
  const workerOf = new Map();
  if (sessionIds.length) {
    const batch = await deadline("BatchGetSession", {identifiers: sessionIds.map((sessionId) => (
      {farmId: ctx.farmId, queueId: ctx.queueId, jobId: ctx.jobId, sessionId}))});
    for (const session of batch.sessions || []) workerOf.set(session.sessionId, session.workerId);
  }
  const selected = ctx.state.selected || (ctx.state.selected = new Set());
  for (const id of [...selected]) if (!tasks.some((t) => t.taskId === id)) selected.delete(id);
  const counts = step.taskRunStatusCounts || {};
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const focus = ctx.query.get("taskId") ? await taskPanel(ctx, ctx.query.get("taskId")) : null;
  return {
    title: `${step.name} · ${job.name}`,
    crumbs: jobCrumbs(ctx, farm, queue, job, [{label: step.name}]),
    body: h("div", null,
      h("div", {class: "page-head"}, h("h1", null, step.name, " ", statusBadge(step.taskRunStatus))),
      progressBar(counts, `Progress of step ${step.name}`),
      h("p", {class: "muted"}, `${total} task(s) · step ${step.stepId}`),
      focus,
      taskFilter(ctx, status),
      taskBulkBar(ctx, tasks, selected),
      tasksTable(ctx, tasks, selected, workerOf),
      h("nav", {class: "pager", "aria-label": "Pages of tasks"},
        h("button", {type: "button", disabled: page === 0, onclick: () => goPage(ctx, 0)}, "« First"),
        h("button", {type: "button", disabled: page === 0, onclick: () => goPage(ctx, page - 1)}, "‹ Previous"),
        h("span", null, `Page ${page + 1}` + (found.total !== undefined ? ` · ${found.total} ${status} task(s)` : "")),
        h("button", {type: "button", disabled: !found.more, onclick: () => goPage(ctx, page + 1)}, "Next ›"))),
  };
}

/** One task, as a link to it (`?taskId=`) shows it: parameters, status, retries, worker, its log. */
async function taskPanel(ctx, taskId) {
  const ids = {farmId: ctx.farmId, queueId: ctx.queueId, jobId: ctx.jobId, stepId: ctx.stepId};
  const task = await deadline("GetTask", {...ids, taskId});
  const sessionId = sessionIdOf(task.latestSessionActionId);
  const session = sessionId ? await deadline("GetSession", {farmId: ctx.farmId, queueId: ctx.queueId,
    jobId: ctx.jobId, sessionId}).catch(() => null) : null;
  return h("section", {class: "panel", "aria-labelledby": "task-h"},
    h("h2", {id: "task-h"}, `Task ${paramsInline(task.parameters) || taskId} `, statusBadge(task.runStatus)),
    h("dl", {class: "facts"},
      h("dt", null, "Task id"), h("dd", null, taskId),
      h("dt", null, "Retries"), h("dd", null, task.failureRetryCount || 0),
      h("dt", null, "Worker"), h("dd", null, session?.workerId || "—"),
      h("dt", null, "Started"), h("dd", null, timeElement(task.startedAt)),
      h("dt", null, "Duration"), h("dd", null, fmtDuration(task.startedAt, task.endedAt) || "—"),
      h("dt", null, "Log"), h("dd", null, sessionId ? h("a", {href: sessionHref(ctx, sessionId)}, sessionId) : "never ran")));
}

function goPage(ctx, page) {
  const next = new URLSearchParams(location.search);
  if (page) next.set("page", String(page)); else next.delete("page");
  ctx.navigate(`${location.pathname}${next.toString() ? "?" + next : ""}`);
}

function taskFilter(ctx, status) {
  const select = h("select", {id: "task-status", "data-key": "task-status", onchange: () => {
    const next = new URLSearchParams();
    if (select.value) next.set("status", select.value);
    ctx.navigate(`${location.pathname}${next.toString() ? "?" + next : ""}`);
  }}, h("option", {value: ""}, "any"), TASK_STATES.map((s) => h("option", {value: s, selected: s === status}, s)));
  return h("div", {class: "filters"}, h("label", {for: "task-status"}, "Status"), select);
}

function taskBulkBar(ctx, tasks, selected) {
  const chosen = () => tasks.filter((t) => selected.has(t.taskId)).map((t) => (
    {farmId: ctx.farmId, queueId: ctx.queueId, jobId: ctx.jobId, stepId: ctx.stepId, taskId: t.taskId}));
  const disabled = selected.size === 0;
  return h("div", {class: "bulk", role: "toolbar", "aria-label": "Actions on the selected tasks"},
    h("span", {class: "bulk-count", "aria-live": "polite"}, selected.size ? `${selected.size} selected` : "Select tasks to act on them"),
    h("button", {type: "button", disabled, onclick: async () => {
      if (await updateTasks(chosen(), "PENDING", `Requeue ${selected.size} task(s)`)) selected.clear();
      ctx.refresh();
    }}, "Requeue"),
    h("button", {type: "button", disabled, onclick: async () => {
      if (!(await confirmAction("Cancel tasks", `Cancel ${selected.size} task(s)?`, "Cancel tasks"))) return;
      if (await updateTasks(chosen(), "CANCELED", `Cancel ${selected.size} task(s)`)) selected.clear();
      ctx.refresh();
    }}, "Cancel"),
    h("button", {type: "button", disabled, onclick: async () => {
      if (await updateTasks(chosen(), "SUCCEEDED", `Mark ${selected.size} task(s) succeeded`)) selected.clear();
      ctx.refresh();
    }}, "Mark succeeded"));
}

function tasksTable(ctx, tasks, selected, workerOf) {
  if (!tasks.length) return h("p", {class: "empty"}, "No task here.");
  const all = tasks.every((t) => selected.has(t.taskId));
  const some = tasks.some((t) => selected.has(t.taskId));
  return h("table", {class: "grid tasks"},
    h("caption", {class: "sr-only"}, "Tasks of the step"),
    h("thead", null, h("tr", null,
      h("th", {scope: "col", class: "select"}, h("input", {type: "checkbox", "aria-label": "Select every task on this page",
        checked: all, indeterminate: some && !all, "data-key": "select-all", onchange: (event) => {
          for (const t of tasks) { if (event.target.checked) selected.add(t.taskId); else selected.delete(t.taskId); }
          ctx.refresh();
        }})),
      ["Task", "Status", "Retries", "Worker", "Started", "Duration", "Log"].map((c) => h("th", {scope: "col"}, c)))),
    h("tbody", null, tasks.map((task) => {
      const sessionId = sessionIdOf(task.latestSessionActionId);
      const label = paramsInline(task.parameters) || task.taskId;
      return h("tr", {class: selected.has(task.taskId) ? "selected" : ""},
        h("td", {class: "select"}, h("input", {type: "checkbox", "aria-label": `Select task ${label}`,
          checked: selected.has(task.taskId), "data-key": `sel-${task.taskId}`, onchange: (event) => {
            if (event.target.checked) selected.add(task.taskId); else selected.delete(task.taskId);
            ctx.refresh();
          }})),
        h("td", null, sessionId
          ? h("a", {href: sessionHref(ctx, sessionId), class: "row-link", "data-key": `row-${task.taskId}`}, label)
          : h("span", {tabindex: "-1"}, label), h("div", {class: "id"}, task.taskId)),
        h("td", null, statusBadge(task.runStatus),
          task.targetRunStatus && task.targetRunStatus !== task.runStatus ? h("div", {class: "muted small"}, `→ ${task.targetRunStatus}`) : null),
        h("td", {class: "num"}, task.failureRetryCount || 0),
        h("td", null, workerOf.get(sessionId) || ""),
        h("td", null, timeElement(task.startedAt)),
        h("td", null, fmtDuration(task.startedAt, task.endedAt)),
        h("td", null, sessionId ? h("a", {href: sessionHref(ctx, sessionId), "aria-label": `Log of task ${label}`}, "log") : ""));
    })));
}

// ---- a session ------------------------------------------------------------------------------------------

function actionLabel(definition) {
  if (!definition) return "";
  const [kind, body] = Object.entries(definition)[0] || [];
  if (!kind) return "";
  if (kind === "taskRun") return `task ${body.taskId}` + (body.parameters ? ` ${paramsInline(body.parameters)}` : "");
  if (kind === "envEnter") return `enter environment ${body.environmentId}`;
  if (kind === "envExit") return `exit environment ${body.environmentId}`;
  return kind;
}

export async function sessionView(ctx) {
  const ids = {farmId: ctx.farmId, queueId: ctx.queueId, jobId: ctx.jobId};
  const [[farm, queue, job], session, actions] = await Promise.all([
    parents(ctx),
    deadline("GetSession", {...ids, sessionId: ctx.sessionId}),
    listAll("ListSessionActions", {...ids, sessionId: ctx.sessionId}, "sessionActions", 1000),
  ]);
  ctx.setTopics(["deadline"]);
  const panel = logPanel(ctx.state, `/aws/deadline/${ctx.farmId}/${ctx.queueId}`, ctx.sessionId,
    `Log of session ${ctx.sessionId}`);
  return {
    title: `${ctx.sessionId} · ${job.name}`,
    crumbs: jobCrumbs(ctx, farm, queue, job, [{label: ctx.sessionId}]),
    after: () => panel.restore(),
    body: h("div", null,
      h("div", {class: "page-head"}, h("h1", null, "Session ", h("span", {class: "id-inline"}, ctx.sessionId), " ",
        statusBadge(session.lifecycleStatus))),
      h("dl", {class: "facts"},
        h("dt", null, "Worker"), h("dd", null, h("a", {href: `/farms/${ctx.farmId}/fleets/${session.fleetId}/workers/${session.workerId}`}, session.workerId)),
        h("dt", null, "Started"), h("dd", null, timeElement(session.startedAt)),
        h("dt", null, "Ended"), h("dd", null, timeElement(session.endedAt)),
        h("dt", null, "Duration"), h("dd", null, fmtDuration(session.startedAt, session.endedAt) || "—")),
      h("section", {class: "panel", "aria-labelledby": "actions-h"},
        h("h2", {id: "actions-h"}, "Actions"),
        actions.length ? h("table", {class: "grid"},
          h("thead", null, h("tr", null, ["Action", "Status", "Exit code", "Message", "Started", "Duration"].map((c) => h("th", {scope: "col"}, c)))),
          h("tbody", null, actions.map((a) => h("tr", null,
            h("td", null, actionLabel(a.definition), h("div", {class: "id"}, a.sessionActionId)),
            h("td", null, statusBadge(a.status)),
            h("td", {class: "num"}, a.processExitCode ?? ""),
            h("td", null, a.progressMessage || ""),
            h("td", null, timeElement(a.startedAt)),
            h("td", null, fmtDuration(a.startedAt, a.endedAt))))))
          : h("p", {class: "muted"}, "No action yet.")),
      h("h2", null, "Log"),
      panel.element),
  };
}
