// Calls to the Tillwise JSON API, as the person logged in to the dashboard.
//
// The session is the `tillwise_session` cookie (HttpOnly: this code never sees it). Every
// change — POST, PUT, PATCH, DELETE — also carries the session's CSRF token in `X-CSRF-Token`;
// the server hands it over at login and in `GET /auth/me`, and it is kept in memory only.
// Nothing is written to storage and no token ever appears in a URL.

const CSRF_HEADER = "X-CSRF-Token";
const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

let csrfToken = null;
let onUnauthorized = () => {};

/** 401: there is no session, or it ended. */
export class AuthError extends Error {}
/** The server could not be reached at all. */
export class NetworkError extends Error {}
/** Any other answer outside 2xx, with the problem details (RFC 9457) the API sent. */
export class ApiError extends Error {
  constructor(status, detail, problem) {
    super(detail);
    this.status = status;
    this.problem = problem || {};
  }

  /** The input at fault, when the server named one ("reason", "edits.delta", …). */
  get field() {
    const errors = this.problem.errors;
    return this.problem.field || (Array.isArray(errors) && errors[0] ? errors[0].field : null);
  }
}

export function setCsrfToken(token) {
  csrfToken = token || null;
}

/** Called (once per failing request) when a request answers 401 after login. */
export function whenUnauthorized(callback) {
  onUnauthorized = callback;
}

async function readProblem(res) {
  try {
    const body = await res.json();
    if (body && typeof body === "object") return body;
  } catch {
    /* not JSON */
  }
  return { detail: res.statusText || `HTTP ${res.status}` };
}

function problemText(problem, status) {
  return problem.detail || problem.title || `HTTP ${status}`;
}

async function send(path, { method = "GET", body, signal } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (!SAFE.has(method) && csrfToken) headers[CSRF_HEADER] = csrfToken;
  try {
    return await fetch(path, {
      method,
      signal,
      headers,
      cache: "no-store",
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    throw new NetworkError("Can't reach the Tillwise server.");
  }
}

/** Call the API with the session; the JSON answer (null for 204), or a typed error. */
export async function api(path, options = {}) {
  const res = await send(path, options);
  if (res.status === 401) {
    const problem = await readProblem(res);
    const err = new AuthError(problemText(problem, 401));
    onUnauthorized(err);
    throw err;
  }
  if (!res.ok) {
    const problem = await readProblem(res);
    throw new ApiError(res.status, problemText(problem, res.status), problem);
  }
  if (res.status === 204) return null;
  return res.json();
}

/** Log in: the server sets the session cookie and answers with who this is (and the CSRF token). */
export async function login(username, password) {
  const res = await send("/auth/login", { method: "POST", body: { username, password } });
  const body = await readProblem(res);
  if (!res.ok) throw new ApiError(res.status, problemText(body, res.status), body);
  setCsrfToken(body.csrf_token);
  return body;
}

/** Who is logged in, or null when nobody is (no cookie, or the session ended). */
export async function whoAmI() {
  const res = await send("/auth/me");
  if (res.status === 401) return null;
  const body = await readProblem(res);
  if (!res.ok) throw new ApiError(res.status, problemText(body, res.status), body);
  setCsrfToken(body.csrf_token);
  return body;
}

export async function logout() {
  try {
    await send("/auth/logout", { method: "POST" });
  } finally {
    setCsrfToken(null);
  }
}

/** A query string from the non-empty values of `params` ("" when none). */
export function query(params) {
  const q = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") q.set(name, String(value));
  }
  const text = q.toString();
  return text ? `?${text}` : "";
}

/** A sentence for an error, as a person should read it. */
export function describe(err) {
  if (err instanceof ApiError) {
    if (err.status === 403) return `Not allowed: ${err.message}`;
    if (err.status === 404) return `Not found: ${err.message}`;
    if (err.status === 409) return `Can't do that now: ${err.message}`;
    if (err.status === 422) return err.field ? `${err.message} (${err.field})` : err.message;
    return `The server answered ${err.status}: ${err.message}`;
  }
  if (err instanceof AuthError) return `${err.message} — log in again.`;
  if (err instanceof NetworkError) return err.message;
  return String(err && err.message ? err.message : err);
}
