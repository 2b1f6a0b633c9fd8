// What the signed-in user can do: job, step and task updates through the Deadline API operations
// (BatchUpdateJob, UpdateJob, BatchUpdateTask, SearchTasks, UpdateQueueFleetAssociation), so the
// farm's access table and audit trail apply. A refusal is shown with the farm's own reason.

import {ApiError, clientToken, deadline} from "./api.js";
import {announce, h} from "./dom.js";

const CHUNK = 100;

function chunks(items, size = CHUNK) {
  const out = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Report the outcome of a bulk call: how many went through, and each refusal's reason. */
function report(what, total, errors) {
  if (!errors.length) {
    announce(`${what}: done (${total}).`);
    return true;
  }
  const first = errors[0];
  const reason = first.message || first.code;
  const refused = errors.length === total ? "refused" : `${errors.length} of ${total} refused`;
  announce(`${what}: ${refused}. ${reason}`, "error");
  return false;
}

function failure(what, error) {
  const prefix = error instanceof ApiError && error.refused ? "refused" : "failed";
  announce(`${what}: ${prefix}. ${error.message}`, "error");
}

/** Apply the same change to jobs [{farmId, queueId, jobId}] with BatchUpdateJob, 100 at a time. */
export async function updateJobs(jobs, change, what) {
  const errors = [];
  try {
    for (const part of chunks(jobs)) {
      const answer = await deadline("BatchUpdateJob", {
        clientToken: clientToken(),
        jobs: part.map((job) => ({farmId: job.farmId, queueId: job.queueId, jobId: job.jobId, ...change})),
      });
      errors.push(...(answer.errors || []));
    }
  } catch (error) {
    failure(what, error);
    return false;
  }
  return report(what, jobs.length, errors);
}

export async function updateJob(job, change, what) {
  try {
    await deadline("UpdateJob", {clientToken: clientToken(), ...job, ...change});
    announce(`${what}: done.`);
    return true;
  } catch (error) {
    failure(what, error);
    return false;
  }
}

export async function updateTasks(tasks, targetRunStatus, what) {
  const errors = [];
  try {
    for (const part of chunks(tasks)) {
      const answer = await deadline("BatchUpdateTask", {
        clientToken: clientToken(),
        tasks: part.map((t) => ({farmId: t.farmId, queueId: t.queueId, jobId: t.jobId, stepId: t.stepId,
                                 taskId: t.taskId, targetRunStatus})),
      });
      errors.push(...(answer.errors || []));
    }
  } catch (error) {
    failure(what, error);
    return false;
  }
  return report(what, tasks.length, errors);
}

/**
 * Requeue a job's tasks that are in `states` (PENDING again, as `farmhand job requeue-tasks` does):
 * SearchTasks finds a page of them, BatchUpdateTask moves it, until none is left.
 */
export async function requeueTasksInStates(job, states, what) {
  let moved = 0;
  const errors = [];
  try {
    for (let round = 0; round < 2000; round++) {
      const found = await deadline("SearchTasks", {
        farmId: job.farmId, queueIds: [job.queueId], jobId: job.jobId, itemOffset: 0, pageSize: 100,
        filterExpressions: {operator: "AND", filters: [
          {stringListFilter: {name: "TASK_RUN_STATUS", operator: "ANY_EQUALS", values: states}}]},
      });
      const tasks = (found.tasks || []).filter((t) => !errors.some((e) => e.taskId === t.taskId));
      if (!tasks.length) break;
      const answer = await deadline("BatchUpdateTask", {
        clientToken: clientToken(),
        tasks: tasks.map((t) => ({farmId: job.farmId, queueId: job.queueId, jobId: job.jobId, stepId: t.stepId,
                                  taskId: t.taskId, targetRunStatus: "PENDING"})),
      });
      const refused = answer.errors || [];
      errors.push(...refused);
      moved += tasks.length - refused.length;
      if (refused.length === tasks.length) break;
    }
  } catch (error) {
    failure(what, error);
    return false;
  }
  if (!moved && !errors.length) { announce(`${what}: no task was in ${states.join(" or ")}.`); return true; }
  return report(what, moved + errors.length, errors);
}

export async function setSchedulingOfQueue(associations, status, what) {
  const errors = [];
  for (const association of associations) {
    try {
      await deadline("UpdateQueueFleetAssociation", {
        farmId: association.farmId, queueId: association.queueId, fleetId: association.fleetId, status,
      });
    } catch (error) {
      errors.push({code: error.code, message: error.message});
    }
  }
  return report(what, associations.length, errors);
}

// ---- dialogs -----------------------------------------------------------------------------------

function openDialog(title, content, submitLabel) {
  return new Promise((resolve) => {
    const titleId = `dialog-${Math.random().toString(36).slice(2)}`;
    const form = h("form", {method: "dialog", class: "dialog-form"},
      content,
      h("div", {class: "buttons"},
        h("button", {type: "submit", value: "ok", class: "primary"}, submitLabel),
        h("button", {type: "submit", value: "cancel", formnovalidate: true}, "Cancel")));
    const dialog = h("dialog", {class: "dialog", "aria-labelledby": titleId}, h("h2", {id: titleId}, title), form);
    dialog.addEventListener("close", () => {
      const ok = dialog.returnValue === "ok";
      resolve(ok ? new FormData(form) : null);
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

export async function confirmAction(title, message, label) {
  return (await openDialog(title, h("p", null, message), label)) !== null;
}

export async function askPriority(current) {
  const data = await openDialog("Change priority", [
    h("label", {for: "priority-input"}, "Priority (0 to 100; higher runs first)"),
    h("input", {id: "priority-input", name: "priority", type: "number", min: 0, max: 100, required: true,
                value: current ?? 50}),
  ], "Change priority");
  return data ? Number(data.get("priority")) : null;
}

export async function askStates() {
  const states = ["FAILED", "CANCELED", "SUSPENDED", "SUCCEEDED", "NOT_COMPATIBLE"];
  const data = await openDialog("Requeue tasks by state", h("fieldset", null,
    h("legend", null, "Requeue the tasks that are"),
    states.map((state) => h("label", {class: "check"},
      h("input", {type: "checkbox", name: "state", value: state, checked: state === "FAILED"}), ` ${state}`))),
  "Requeue");
  return data ? data.getAll("state") : null;
}

const EDITABLE = [
  ["name", "Name", "text", {maxlength: 128, required: true}],
  ["description", "Description", "textarea", {maxlength: 2048}],
  ["priority", "Priority", "number", {min: 0, max: 100}],
  ["maxFailedTasksCount", "Most failed tasks before the job fails", "number", {min: 0}],
  ["maxRetriesPerTask", "Most retries per task", "number", {min: 0}],
  ["maxWorkerCount", "Most workers at once (-1: no limit)", "number", {min: -1}],
];

/** The changed fields of a job, or null when the dialog was dismissed. */
export async function askJobEdits(job) {
  const data = await openDialog("Edit job", EDITABLE.map(([name, label, type, attrs]) => {
    const id = `edit-${name}`;
    const value = job[name] ?? "";
    const input = type === "textarea"
      ? h("textarea", {id, name, rows: 3, ...attrs}, String(value))
      : h("input", {id, name, type, value: String(value), ...attrs});
    return [h("label", {for: id}, label), input];
  }), "Save");
  if (!data) return null;
  const change = {};
  for (const [name, , type] of EDITABLE) {
    const raw = data.get(name);
    if (raw === null) continue;
    const value = type === "number" ? (raw === "" ? null : Number(raw)) : String(raw);
    if (value === null || value === (job[name] ?? (type === "number" ? null : ""))) continue;
    change[name] = value;
  }
  return change;
}
