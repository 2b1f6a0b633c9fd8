// Farms, one farm (its queues with their jobs by state and the fleets serving them, its fleets),
// a fleet's workers, and one worker (host, current session, its own log).

import {deadline, listAll} from "./api.js";
import {h, statusBadge, timeElement} from "./dom.js";
import {logPanel} from "./logview.js";
import {farmCrumbs} from "./views-jobs.js";

const JOB_STATE_GROUPS = [
  ["Running", ["RUNNING", "ASSIGNED", "STARTING", "SCHEDULED", "INTERRUPTING"]],
  ["Ready", ["READY"]],
  ["Pending", ["PENDING"]],
  ["Suspended", ["SUSPENDED"]],
  ["Failed", ["FAILED"]],
  ["Canceled", ["CANCELED"]],
  ["Succeeded", ["SUCCEEDED"]],
];

export async function farmsView() {
  const farms = await listAll("ListFarms", {}, "farms");
  return {
    title: "Farms",
    crumbs: [{label: "Farms"}],
    body: h("div", null,
      h("h1", null, "Farms"),
      farms.length ? h("table", {class: "grid"},
        h("caption", {class: "sr-only"}, "Farms you are a member of"),
        h("thead", null, h("tr", null, ["Farm", "Id", "Created"].map((c) => h("th", {scope: "col"}, c)))),
        h("tbody", null, farms.map((farm) => h("tr", null,
          h("td", null, h("a", {href: `/farms/${farm.farmId}`, class: "row-link", "data-key": `farm-${farm.farmId}`}, farm.displayName)),
          h("td", {class: "id"}, farm.farmId),
          h("td", null, timeElement(farm.createdAt))))))
        : h("p", {class: "empty"}, "You are not a member of any farm yet: ask a farm owner to add you.")),
  };
}

/** How many of the queue's jobs are in each group of states (SearchJobs' totals). */
async function jobsByState(farmId, queueId) {
  const totals = await Promise.all(JOB_STATE_GROUPS.map(([, states]) => deadline("SearchJobs", {
    farmId, queueIds: [queueId], itemOffset: 0, pageSize: 1,
    filterExpressions: {operator: "AND", filters: [
      {stringListFilter: {name: "TASK_RUN_STATUS", operator: "ANY_EQUALS", values: states}}]},
  }).then((r) => r.totalResults || 0, () => null)));
  return JOB_STATE_GROUPS.map(([label], i) => [label, totals[i]]);
}

export async function farmView(ctx) {
  const [farm, queues, fleets] = await Promise.all([
    deadline("GetFarm", {farmId: ctx.farmId}),
    listAll("ListQueues", {farmId: ctx.farmId}, "queues"),
    listAll("ListFleets", {farmId: ctx.farmId}, "fleets"),
  ]);
  const fleetNames = new Map(fleets.map((f) => [f.fleetId, f.displayName]));
  const workerCounts = new Map(fleets.map((f) => [f.fleetId, f.workerCount || 0]));
  const rows = await Promise.all(queues.map(async (queue) => {
    const [counts, associations] = await Promise.all([
      jobsByState(ctx.farmId, queue.queueId),
      listAll("ListQueueFleetAssociations", {farmId: ctx.farmId, queueId: queue.queueId}, "queueFleetAssociations")
        .catch(() => []),
    ]);
    return {queue, counts, associations};
  }));
  return {
    title: farm.displayName,
    crumbs: farmCrumbs(farm).slice(0, 1).concat([{label: farm.displayName}]),
    body: h("div", null,
      h("h1", null, farm.displayName),
      farm.description ? h("p", {class: "muted"}, farm.description) : null,
      h("section", {class: "panel", "aria-labelledby": "queues-h"},
        h("h2", {id: "queues-h"}, "Queues"),
        rows.length ? h("table", {class: "grid"},
          h("caption", {class: "sr-only"}, "Queues of the farm with their jobs by state"),
          h("thead", null, h("tr", null, h("th", {scope: "col"}, "Queue"), h("th", {scope: "col"}, "Status"),
            JOB_STATE_GROUPS.map(([label]) => h("th", {scope: "col", class: "num"}, label)),
            h("th", {scope: "col"}, "Served by"))),
          h("tbody", null, rows.map(({queue, counts, associations}) => h("tr", null,
            h("td", null, h("a", {href: `/farms/${ctx.farmId}/queues/${queue.queueId}`, class: "row-link",
              "data-key": `queue-${queue.queueId}`}, queue.displayName), h("div", {class: "id"}, queue.queueId)),
            h("td", null, statusBadge(queue.status), queue.blockedReason ? h("div", {class: "muted small"}, queue.blockedReason) : null),
            counts.map(([label, n]) => h("td", {class: "num"}, n === null ? "—" : n ? h("a", {
              href: `/farms/${ctx.farmId}/queues/${queue.queueId}?status=${JOB_STATE_GROUPS.find((g) => g[0] === label)[1][0]}`,
              "aria-label": `${n} ${label.toLowerCase()} jobs in ${queue.displayName}`}, String(n)) : "0")),
            h("td", null, associations.length ? associations.map((a, i) => [i ? ", " : "",
              h("a", {href: `/farms/${ctx.farmId}/fleets/${a.fleetId}`}, fleetNames.get(a.fleetId) || a.fleetId),
              ` (${workerCounts.get(a.fleetId) ?? 0} workers${a.status === "ACTIVE" ? "" : `, ${a.status}`})`])
              : h("span", {class: "muted"}, "no fleet")))))) : h("p", {class: "empty"}, "No queue you may see.")),
      h("section", {class: "panel", "aria-labelledby": "fleets-h"},
        h("h2", {id: "fleets-h"}, "Fleets"),
        fleets.length ? h("table", {class: "grid"},
          h("caption", {class: "sr-only"}, "Fleets of the farm"),
          h("thead", null, h("tr", null, ["Fleet", "Status", "Workers", "Min", "Max"].map((c) => h("th", {scope: "col"}, c)))),
          h("tbody", null, fleets.map((fleet) => h("tr", null,
            h("td", null, h("a", {href: `/farms/${ctx.farmId}/fleets/${fleet.fleetId}`, class: "row-link",
              "data-key": `fleet-${fleet.fleetId}`}, fleet.displayName), h("div", {class: "id"}, fleet.fleetId)),
            h("td", null, statusBadge(fleet.status)),
            h("td", {class: "num"}, fleet.workerCount ?? 0),
            h("td", {class: "num"}, fleet.minWorkerCount ?? ""),
            h("td", {class: "num"}, fleet.maxWorkerCount ?? ""))))) : h("p", {class: "empty"}, "No fleet you may see."))),
  };
}

function hostName(worker) {
  return worker.hostProperties?.hostName || "";
}

function addresses(worker) {
  const ip = worker.hostProperties?.ipAddresses || {};
  return [...(ip.ipV4Addresses || []), ...(ip.ipV6Addresses || [])].join(", ");
}

export async function fleetView(ctx) {
  const [farm, fleet, workers] = await Promise.all([
    deadline("GetFarm", {farmId: ctx.farmId}),
    deadline("GetFleet", {farmId: ctx.farmId, fleetId: ctx.fleetId}),
    listAll("ListWorkers", {farmId: ctx.farmId, fleetId: ctx.fleetId}, "workers", 500),
  ]);
  const current = await Promise.all(workers.slice(0, 100).map((w) => deadline("ListSessionsForWorker", {
    farmId: ctx.farmId, fleetId: ctx.fleetId, workerId: w.workerId, maxResults: 5,
  }).then((r) => (r.sessions || []).find((s) => !s.endedAt) || null, () => null)));
  return {
    title: fleet.displayName,
    crumbs: farmCrumbs(farm, [{label: fleet.displayName}]),
    body: h("div", null,
      h("h1", null, fleet.displayName, " ", statusBadge(fleet.status)),
      fleet.description ? h("p", {class: "muted"}, fleet.description) : null,
      h("dl", {class: "facts"},
        h("dt", null, "Fleet id"), h("dd", null, fleet.fleetId),
        h("dt", null, "Workers"), h("dd", null, `${workers.length} (min ${fleet.minWorkerCount ?? 0}, max ${fleet.maxWorkerCount ?? "—"})`)),
      workers.length ? h("table", {class: "grid"},
        h("caption", {class: "sr-only"}, "Workers of the fleet"),
        h("thead", null, h("tr", null, ["Worker", "Host", "Addresses", "Status", "Current session", "Registered"]
          .map((c) => h("th", {scope: "col"}, c)))),
        h("tbody", null, workers.map((worker, i) => h("tr", null,
          h("td", null, h("a", {href: `/farms/${ctx.farmId}/fleets/${ctx.fleetId}/workers/${worker.workerId}`,
            class: "row-link", "data-key": `worker-${worker.workerId}`}, worker.workerId)),
          h("td", null, hostName(worker)),
          h("td", {class: "small"}, addresses(worker)),
          h("td", null, statusBadge(worker.status)),
          h("td", null, current[i] ? h("a", {href: `/farms/${ctx.farmId}/queues/${current[i].queueId}/jobs/${current[i].jobId}/sessions/${current[i].sessionId}`},
            current[i].sessionId) : h("span", {class: "muted"}, "idle")),
          h("td", null, timeElement(worker.createdAt))))))
        : h("p", {class: "empty"}, "No worker has registered in this fleet.")),
  };
}

export async function workerView(ctx) {
  const [farm, fleet, worker, sessions] = await Promise.all([
    deadline("GetFarm", {farmId: ctx.farmId}),
    deadline("GetFleet", {farmId: ctx.farmId, fleetId: ctx.fleetId}),
    deadline("GetWorker", {farmId: ctx.farmId, fleetId: ctx.fleetId, workerId: ctx.workerId}),
    listAll("ListSessionsForWorker", {farmId: ctx.farmId, fleetId: ctx.fleetId, workerId: ctx.workerId}, "sessions", 100),
  ]);
  const host = worker.hostProperties || {};
  const panel = logPanel(ctx.state, `/aws/deadline/${ctx.farmId}/${ctx.fleetId}`, ctx.workerId, `Log of worker ${ctx.workerId}`);
  const recent = [...sessions].sort((a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt)).slice(0, 20);
  return {
    title: ctx.workerId,
    crumbs: farmCrumbs(farm, [{label: fleet.displayName, href: `/farms/${ctx.farmId}/fleets/${ctx.fleetId}`}, {label: ctx.workerId}]),
    after: () => panel.restore(),
    body: h("div", null,
      h("h1", null, "Worker ", h("span", {class: "id-inline"}, ctx.workerId), " ", statusBadge(worker.status)),
      h("dl", {class: "facts"},
        h("dt", null, "Host"), h("dd", null, host.hostName || "—"),
        h("dt", null, "Addresses"), h("dd", null, addresses(worker) || "—"),
        h("dt", null, "Registered"), h("dd", null, timeElement(worker.createdAt)),
        h("dt", null, "Updated"), h("dd", null, timeElement(worker.updatedAt))),
      h("section", {class: "panel", "aria-labelledby": "wsessions-h"},
        h("h2", {id: "wsessions-h"}, "Recent sessions"),
        recent.length ? h("table", {class: "grid"},
          h("thead", null, h("tr", null, ["Session", "Job", "Status", "Started", "Ended"].map((c) => h("th", {scope: "col"}, c)))),
          h("tbody", null, recent.map((s) => h("tr", null,
            h("td", null, h("a", {href: `/farms/${ctx.farmId}/queues/${s.queueId}/jobs/${s.jobId}/sessions/${s.sessionId}`,
              class: "row-link", "data-key": `ws-${s.sessionId}`}, s.sessionId)),
            h("td", null, h("a", {href: `/farms/${ctx.farmId}/queues/${s.queueId}/jobs/${s.jobId}`}, s.jobId)),
            h("td", null, statusBadge(s.lifecycleStatus)),
            h("td", null, timeElement(s.startedAt)),
            h("td", null, timeElement(s.endedAt))))))
          : h("p", {class: "muted"}, "No session yet.")),
      h("h2", null, "Worker log"),
      panel.element),
  };
}
