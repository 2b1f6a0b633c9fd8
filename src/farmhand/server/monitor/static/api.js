// Calls to the farm's own API as the signed-in user: the same operations, URLs and JSON bodies as
// boto3 sends (read from the server's botocore models in /monitor/operations.json), authenticated by
// the sign-in cookie plus this page's CSRF token instead of a SigV4 signature.

const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content || "";
export const CSRF = meta("farmhand-csrf");
const CSRF_HEADER = meta("farmhand-csrf-header");
export const USER = meta("farmhand-user");
export const SIGN_OUT = meta("farmhand-sign-out");

const SIGNED_OUT_CODES = new Set([
  "UnrecognizedClientException", "MissingAuthenticationTokenException", "ExpiredTokenException",
]);

export class ApiError extends Error {
  constructor(code, message, status) {
    super(message || code);
    this.code = code;
    this.status = status;
  }
  get refused() { return this.code === "AccessDeniedException"; }
}

let tablePromise = null;
function operations() {
  if (!tablePromise) {
    tablePromise = fetch("/monitor/operations.json", {credentials: "same-origin"}).then((r) => {
      if (!r.ok) throw new ApiError("OperationsUnavailable", `The farm's operation table: HTTP ${r.status}`);
      return r.json();
    });
    tablePromise.catch(() => { tablePromise = null; });
  }
  return tablePromise;
}

function encodeLabel(value, greedy) {
  const encoded = encodeURIComponent(String(value));
  return greedy ? encoded.replaceAll("%2F", "/") : encoded;
}

/** A random client token (crypto.getRandomValues works on plain-HTTP pages too). */
export function clientToken() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function buildRest(spec, params) {
  const rest = {...params};
  let path = spec.uri.replace(/\{([^}+]+)(\+?)\}/g, (_, name, greedy) => {
    if (rest[name] === undefined) throw new ApiError("ValidationException", `missing ${name}`);
    const value = encodeLabel(rest[name], greedy === "+");
    delete rest[name];
    return value;
  });
  const query = new URLSearchParams();
  const headers = {};
  for (const [member, [location, name]] of Object.entries(spec.in)) {
    if (rest[member] === undefined || location === "uri") continue;
    if (location === "querystring") query.append(name, String(rest[member]));
    else if (location === "header") headers[name] = String(rest[member]);
    delete rest[member];
  }
  const q = query.toString();
  if (q) path += (path.includes("?") ? "&" : "?") + q;
  const hasBody = !["GET", "HEAD", "DELETE"].includes(spec.method);
  return {path, headers, body: hasBody ? JSON.stringify(rest) : undefined, contentType: "application/json"};
}

let onSignedOut = () => { window.location.assign(`/signin?next=${encodeURIComponent(location.pathname + location.search)}`); };
export function whenSignedOut(callback) { onSignedOut = callback; }

/** Call one operation: call("deadline", "GetJob", {farmId, queueId, jobId}). */
export async function call(service, operation, params = {}) {
  const table = await operations();
  let request;
  if (service === "deadline") {
    const spec = table.deadline[operation];
    if (!spec) throw new ApiError("UnknownOperationException", `${operation} is not a Deadline Cloud operation`);
    request = {method: spec.method, ...buildRest(spec, params)};
  } else {
    const group = table[service];
    const target = group?.targets?.[operation];
    if (!target) throw new ApiError("UnknownOperationException", `${service}:${operation} is not available on this farm`);
    request = {method: "POST", path: "/", headers: {"X-Amz-Target": target}, body: JSON.stringify(params),
               contentType: group.contentType};
  }
  const headers = {...request.headers, [CSRF_HEADER]: CSRF};
  if (request.body !== undefined) headers["Content-Type"] = request.contentType;
  let response;
  try {
    response = await fetch(request.path, {
      method: request.method, headers, body: request.body, credentials: "same-origin", cache: "no-store",
    });
  } catch (error) {
    throw new ApiError("NetworkError", "The farm cannot be reached (is the server running?)", 0);
  }
  const text = await response.text();
  let data = {};
  if (text) {
    try { data = JSON.parse(text); } catch { data = {message: text.slice(0, 300)}; }
  }
  if (!response.ok) {
    const code = (response.headers.get("x-amzn-ErrorType") || data.__type || `HTTP${response.status}`)
      .split(":")[0].split("#").pop();
    const error = new ApiError(code, data.message || data.Message || `HTTP ${response.status}`, response.status);
    if (SIGNED_OUT_CODES.has(code)) onSignedOut(error);
    throw error;
  }
  return data;
}

export const deadline = (operation, params) => call("deadline", operation, params);
export const logs = (operation, params) => call("logs", operation, params);

/** Every item of a paginated list (up to `limit` items). */
export async function listAll(operation, params, member, limit = 1000) {
  const items = [];
  let nextToken;
  do {
    const page = await deadline(operation, {...params, ...(nextToken ? {nextToken} : {}), maxResults: 100});
    items.push(...(page[member] || []));
    nextToken = page.nextToken;
  } while (nextToken && items.length < limit);
  return items;
}

export async function hasService(service) {
  const table = await operations();
  return Boolean(table[service]);
}
