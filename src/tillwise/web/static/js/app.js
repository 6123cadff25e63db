// The dashboard's frame: login, who is logged in, the navigation, and the hash router that
// draws one page of the registry (./pages/index.js) at a time.

import { api, AuthError, describe, login, logout, whenUnauthorized, whoAmI } from "./api.js";
import { $, h, notice, replaceChildren } from "./dom.js";
import { humanize } from "./format.js";
import { PAGES } from "./pages/index.js";

const COUNTS_MS = 30000;

const state = {
  me: null,
  stores: null, // Promise of the stores in scope (GET /v1/stores), per session
  storeNames: new Map(),
  people: null, // Promise of the users the role may list (GET /v1/users), per session
  userNames: new Map(), // "user:<id>" → "Name (username)"
  cleanup: null,
  controller: null,
  seq: 0,
  countsTimer: null,
};

// ---- permissions -------------------------------------------------------------------------

function can(permission) {
  if (!state.me) return false;
  const wanted = Array.isArray(permission) ? permission : [permission];
  return wanted.some((p) => !p || state.me.permissions.includes(p));
}

// ---- stores in scope ---------------------------------------------------------------------

function stores() {
  if (!state.stores) {
    state.stores = can("locations:read")
      ? api("/v1/stores").then((body) => {
        for (const s of body.data) state.storeNames.set(s.store, s.name);
        return body.data;
      }).catch((err) => {
        state.stores = null; // try again next time
        throw err;
      })
      : Promise.resolve([]);
  }
  return state.stores;
}

/** A store's name; before its location is known, its id at the POS (the key's second part). */
function storeName(key) {
  if (!key) return "—";
  const name = state.storeNames.get(key);
  if (name) return name;
  const colon = key.indexOf(":");
  return colon < 0 ? key : key.slice(colon + 1);
}

// ---- people (for naming actors) ---------------------------------------------------------

function people() {
  if (!state.people) {
    state.people = can("users:read")
      ? api("/v1/users").then((body) => {
        for (const u of body.data) state.userNames.set(`user:${u.id}`, `${u.display_name} (${u.username})`);
        return body.data;
      }).catch(() => {
        state.people = null;
        return [];
      })
      : Promise.resolve([]);
  }
  return state.people;
}

/** How an audit actor ("user:usr_…", "workflow:…", "cli") reads: a person's name when known. */
function actorName(actor) {
  if (state.me && actor === `user:${state.me.id}`) return `${state.me.name || state.me.id} (you)`;
  return state.userNames.get(actor) || actor;
}

// ---- login and logout --------------------------------------------------------------------

function showLogin(message = "", isError = false) {
  stopCounts();
  unmountPage();
  state.me = null;
  state.stores = null;
  state.storeNames.clear();
  state.people = null;
  state.userNames.clear();
  $("#frame").hidden = true;
  $("#session").hidden = true;
  replaceChildren($("#nav"));
  $("#login").hidden = false;
  const msg = $("#login-message");
  msg.hidden = !message;
  msg.textContent = message;
  msg.classList.toggle("error", isError);
  msg.setAttribute("role", isError ? "alert" : "status");
  $("#login-error").hidden = true;
  $("#login-password").value = "";
  const user = $("#login-username");
  (user.value ? $("#login-password") : user).focus();
  document.title = "Log in · Tillwise";
}

async function onLogin(event) {
  event.preventDefault();
  const username = $("#login-username").value.trim();
  const password = $("#login-password").value;
  const errorEl = $("#login-error");
  const button = $("#login-form button[type=submit]");
  if (!username || !password) return;
  button.disabled = true;
  button.textContent = "Logging in…";
  errorEl.hidden = true;
  try {
    const me = await login(username, password);
    $("#login-password").value = "";
    start(me);
  } catch (err) {
    errorEl.textContent = err.status === 401 ? "Wrong username or password." : describe(err);
    errorEl.hidden = false;
    $("#login-password").select();
  } finally {
    button.disabled = false;
    button.textContent = "Log in";
  }
}

async function onLogout() {
  await logout().catch(() => {});
  showLogin("You have logged out.");
}

// ---- the frame ---------------------------------------------------------------------------

function scopeText(me) {
  if (me.stores === null) return "All stores";
  if (me.stores.length === 0) return "No stores";
  if (me.stores.length === 1) return storeName(me.stores[0]);
  return `${me.stores.length} stores`;
}

function renderSession() {
  const me = state.me;
  $("#who-name").textContent = me.name || me.id;
  $("#who-role").textContent = humanize(me.role);
  const scope = $("#who-scope");
  scope.textContent = scopeText(me);
  scope.title = me.stores === null ? "Every store" : me.stores.map(storeName).join(", ");
  $("#session").hidden = false;
}

function allowedPages() {
  return PAGES.filter((p) => can(p.permission));
}

function renderNav(current) {
  const nav = $("#nav");
  replaceChildren(nav, allowedPages().filter((p) => p.nav !== false).map((p) => h("a", {
    href: `#${p.path}`,
    "aria-current": p === current ? "page" : null,
    dataset: { path: p.path },
  }, p.title, p.path === "/approvals"
    ? h("span", { class: "badge", id: "pending-badge", hidden: true },
      h("span", { "aria-hidden": "true", class: "badge-count" }),
      h("span", { class: "visually-hidden badge-text" }))
    : null)));
}

async function refreshCounts() {
  if (!can("proposals:read")) return;
  clearTimeout(state.countsTimer);
  try {
    const counts = await api("/v1/proposals/counts");
    const badge = $("#pending-badge");
    if (badge) {
      const n = counts.pending || 0;
      badge.hidden = n === 0;
      badge.querySelector(".badge-count").textContent = String(n);
      badge.querySelector(".badge-text").textContent = `(${n} waiting)`;
      badge.title = `${n} waiting for approval`;
    }
  } catch (err) {
    if (err instanceof AuthError) return;
  }
  state.countsTimer = setTimeout(refreshCounts, COUNTS_MS);
}

function stopCounts() {
  clearTimeout(state.countsTimer);
  state.countsTimer = null;
}


function start(me) {
  state.me = me;
  state.stores = null;
  $("#login").hidden = true;
  $("#frame").hidden = false;
  renderSession();
  stores().then(renderSession).catch(() => {});
  route();
  refreshCounts();
}

// ---- the router --------------------------------------------------------------------------

function parseHash() {
  const raw = window.location.hash.replace(/^#/, "");
  const [pathPart, queryPart = ""] = raw.split("?", 2);
  const segments = pathPart.split("/").filter(Boolean).map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  });
  return { segments, query: new URLSearchParams(queryPart) };
}

function findPage(segments) {
  const path = `/${segments.join("/")}`;
  let best = null;
  for (const page of PAGES) {
    if (path === page.path || path.startsWith(`${page.path}/`)) {
      if (!best || page.path.length > best.path.length) best = page;
    }
  }
  return best;
}

function unmountPage() {
  if (state.controller) state.controller.abort();
  state.controller = null;
  if (typeof state.cleanup === "function") {
    try {
      state.cleanup();
    } catch (err) {
      console.error(err); // eslint-disable-line no-console
    }
  }
  state.cleanup = null;
}

async function route() {
  if (!state.me) return;
  const { segments, query } = parseHash();
  const allowed = allowedPages();
  if (segments.length === 0) {
    if (allowed.length) {
      window.location.replace(`#${allowed[0].path}`);
      return;
    }
  }
  unmountPage();
  const seq = ++state.seq;
  const page = segments.length ? findPage(segments) : null;
  renderNav(page);
  refreshCountsSoon();
  const view = $("#view");
  const root = h("div", { class: "page", id: page ? `page-${page.path.slice(1).replace(/\//g, "-")}` : "page-none" });
  replaceChildren(view, root);
  if (!page) {
    document.title = "Not found · Tillwise";
    replaceChildren(root, h("h1", {}, "Page not found"),
      allowed.length
        ? notice("info", "There is no page at this address. ", h("a", { href: `#${allowed[0].path}` }, `Go to ${allowed[0].title}`), ".")
        : notice("info", `Your role (${humanize(state.me.role)}) has no dashboard pages.`));
    return;
  }
  document.title = `${page.title} · Tillwise`;
  if (!can(page.permission)) {
    const needs = Array.isArray(page.permission) ? page.permission.join(" or ") : page.permission;
    replaceChildren(root, h("h1", {}, page.title),
      notice("error", `Your role (${humanize(state.me.role)}) cannot open this page: it needs ${needs}.`));
    return;
  }
  const controller = new AbortController();
  state.controller = controller;
  const ctx = {
    me: state.me,
    can,
    rest: segments.slice(page.path.split("/").filter(Boolean).length),
    query,
    navigate: (hash) => {
      if (window.location.hash === hash) route();
      else window.location.hash = hash;
    },
    stores,
    storeName,
    people,
    actorName,
    signal: controller.signal,
    refreshCounts,
    isCurrent: () => seq === state.seq,
  };
  try {
    const cleanup = await page.render(root, ctx);
    if (seq === state.seq) state.cleanup = cleanup;
    else if (typeof cleanup === "function") cleanup();
  } catch (err) {
    if (err && err.name === "AbortError") return;
    if (err instanceof AuthError) return; // the login form is already shown
    console.error(err); // eslint-disable-line no-console
    if (seq === state.seq) root.appendChild(notice("error", `This page could not be shown: ${describe(err)}`));
  }
}

let countsSoon = null;
function refreshCountsSoon() {
  clearTimeout(countsSoon);
  countsSoon = setTimeout(refreshCounts, 50);
}

// ---- start -------------------------------------------------------------------------------

/** Old links carried an API token (`?token=` / `#token=`); drop it from the address unused. */
function dropTokenFromUrl() {
  const { pathname, search, hash } = window.location;
  const strip = (part) => part.split("&").filter((p) => p && !/^token(=|$)/.test(p)).join("&");
  const q = strip(search.replace(/^\?/, ""));
  const f = hash.startsWith("#/") ? hash.slice(1) : strip(hash.replace(/^#/, ""));
  const hadToken = /(^|[?&#])token=/.test(search) || /^#(.*&)?token=/.test(hash);
  if (!hadToken) return false;
  window.history.replaceState(window.history.state, "", pathname + (q ? `?${q}` : "") + (f ? `#${f}` : ""));
  return true;
}

async function main() {
  const hadToken = dropTokenFromUrl();
  $("#login-form").addEventListener("submit", onLogin);
  $("#sign-out").addEventListener("click", onLogout);
  window.addEventListener("hashchange", route);
  whenUnauthorized(() => {
    if (state.me) showLogin("Your session has ended. Log in again to carry on.", true);
  });
  let me = null;
  try {
    me = await whoAmI();
  } catch (err) {
    showLogin(describe(err), true);
    return;
  }
  if (me && me.kind === "user") start(me);
  else {
    showLogin(hadToken
      ? "Dashboard links no longer carry a token: log in with your username and password."
      : "");
  }
}

main();
