// The API token and calls to the JSON API.
//
// The token arrives once in the link (`/?token=tw_…` or `/#token=tw_…`, as `tillwise demo`
// prints it), is kept in sessionStorage (this tab only, gone when it closes), and is removed
// from the visible URL at once so it is not bookmarked, shared or left in the history.

const KEY = "tillwise.token";
let memoryToken = null; // when sessionStorage is unavailable (private modes, policies)

export class AuthError extends Error {}
export class NetworkError extends Error {}
export class ApiError extends Error {
  constructor(status, detail, problem) {
    super(detail);
    this.status = status;
    this.problem = problem;
  }
}

export function getToken() {
  try {
    return window.sessionStorage.getItem(KEY) || memoryToken;
  } catch {
    return memoryToken;
  }
}

export function setToken(token) {
  memoryToken = token;
  try {
    window.sessionStorage.setItem(KEY, token);
  } catch {
    /* keep it in memory only */
  }
}

export function forgetToken() {
  memoryToken = null;
  try {
    window.sessionStorage.removeItem(KEY);
  } catch {
    /* nothing stored */
  }
}

// Split "a=1&token=x" into pairs without URLSearchParams' "+" → " " rule (tokens are opaque).
function takeToken(params) {
  let token = null;
  const kept = [];
  for (const part of params.split("&")) {
    if (!part) continue;
    const eq = part.indexOf("=");
    const name = eq < 0 ? part : part.slice(0, eq);
    if (name === "token") {
      try {
        token = decodeURIComponent(eq < 0 ? "" : part.slice(eq + 1));
      } catch {
        token = part.slice(eq + 1);
      }
    } else {
      kept.push(part);
    }
  }
  return { token, rest: kept.join("&") };
}

/** Move a token from the URL (query or fragment) into sessionStorage; true when one was found. */
export function captureTokenFromUrl() {
  const { pathname, search, hash } = window.location;
  const q = takeToken(search.replace(/^\?/, ""));
  const f = takeToken(hash.replace(/^#/, ""));
  const token = f.token ?? q.token;
  if (q.token === null && f.token === null) return false;
  const clean = (token || "").trim();
  if (clean) setToken(clean);
  const url = pathname + (q.rest ? `?${q.rest}` : "") + (f.rest ? `#${f.rest}` : "");
  window.history.replaceState(window.history.state, "", url);
  return Boolean(clean);
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

/** Call the API with the bearer token; JSON on success, typed errors otherwise. */
export async function api(path, { method = "GET", signal } = {}) {
  const token = getToken();
  if (!token) throw new AuthError("No API token yet.");
  let res;
  try {
    res = await fetch(path, {
      method,
      signal,
      cache: "no-store",
      credentials: "omit",
      headers: { Authorization: `Bearer ${token}`, Accept: "application/json" },
    });
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    throw new NetworkError("Can't reach the Tillwise server.");
  }
  if (res.status === 401) {
    const problem = await readProblem(res);
    throw new AuthError(problem.detail || "The API token was not accepted.");
  }
  if (!res.ok) {
    const problem = await readProblem(res);
    throw new ApiError(res.status, problem.detail || problem.title || `HTTP ${res.status}`, problem);
  }
  return res.json();
}
