// Connections: the POS connections and the webhook address each one posts to; roles that may
// (admins) connect a store by OAuth (the platform's own approval page, then back here), add a
// connection by hand (the signing secret is sent once and stored encrypted by the server), and
// start a backfill of a connection's history from the platform's API.

import { api } from "../api.js";
import { busy, code, empty, errorNotice, field, h, notice, pill, replaceChildren } from "../dom.js";
import { formatDateTime } from "../format.js";

let PLATFORMS = ["generic"]; // replaced by GET /v1/platforms

async function render(root, ctx) {
  const state = h("div", { id: "conn-state" });
  const tbody = h("tbody");
  const tableEl = h("table", { class: "table", id: "connections-table", hidden: true },
    h("caption", { class: "visually-hidden" }, "POS connections"),
    h("thead", {}, h("tr", {}, ["Name", "Platform", "Status", "Webhook address", "Writes back to", "Created", ""].map((t) => h("th", { scope: "col" }, t)))),
    tbody);
  const writer = ctx.can("connections:write");
  let platforms = [];
  try {
    platforms = (await api("/v1/platforms", { signal: ctx.signal })).data;
    PLATFORMS = platforms.map((p) => p.platform);
  } catch (err) {
    if (err.name === "AbortError") return;
  }
  const withApi = new Set(platforms.filter((p) => p.api).map((p) => p.platform));
  const form = writer ? createForm(ctx, () => load()) : null;
  const installed = new URLSearchParams(window.location.hash.split("?")[1] || "").get("installed");
  replaceChildren(root,
    h("div", { class: "page-head" }, h("h1", {}, "Connections")),
    installed ? notice("ok", `Connected: ${installed}. Start a backfill to bring in its history.`) : null,
    h("section", { class: "card card-wide" }, state, h("div", { class: "scroll-x" }, tableEl)),
    writer ? connectForm(platforms.filter((p) => p.oauth)) : null,
    form);

  const load = async () => {
    const body = await api("/v1/connections", { signal: ctx.signal });
    const conns = body.data;
    tableEl.hidden = conns.length === 0;
    replaceChildren(state, conns.length === 0
      ? empty("No connections yet", form ? "Add the first one below." : "An administrator adds them.")
      : null);
    replaceChildren(tbody, conns.map((c) => h("tr", { dataset: { id: c.id } },
      h("td", {}, c.name, h("span", { class: "sub" }, c.id)),
      h("td", {}, c.platform),
      h("td", {}, pill(c.status, c.status === "active" ? "ok" : "warn")),
      h("td", { class: "break" }, code(`${window.location.origin}${c.webhook_path}`)),
      h("td", { class: "break" }, writer ? apiCell(c, () => load()) : (c.api_base_url ? code(c.api_base_url) : "—")),
      h("td", { class: "nowrap" }, formatDateTime(c.created_at)),
      h("td", {}, writer && withApi.has(c.platform) ? backfillButton(c) : null),
    )));
  };
  try {
    await load();
  } catch (err) {
    if (err.name === "AbortError") return;
    replaceChildren(state, errorNotice(err, "The connections could not be loaded"));
  }
}

// OAuth: the browser goes to the server's /oauth/<platform>/start, which redirects to the
// platform's approval page with a signed state; the platform sends the person back to the
// server's callback, which stores the connection and returns here.
function connectForm(platforms) {
  if (!platforms.length) return null;
  const choice = h("select", { id: "oauth-platform" },
    platforms.map((p) => h("option", { value: p.platform }, p.platform)));
  const paramsBox = h("div", { class: "form-grid", id: "oauth-params" });
  const drawParams = () => {
    const p = platforms.find((x) => x.platform === choice.value);
    replaceChildren(paramsBox, (p ? p.oauth_params : []).map((name) =>
      field(name, h("input", { type: "text", name, required: true, autocapitalize: "off" }))));
  };
  choice.addEventListener("change", drawParams);
  drawParams();
  const go = h("button", { class: "btn btn-primary", type: "submit" }, "Connect");
  const form = h("form", { class: "card card-wide form-card", id: "oauth-form" },
    h("h2", {}, "Connect a store"),
    h("p", { class: "muted" }, "You approve Tillwise on the platform's own page and come back here."),
    h("div", { class: "form-grid" }, field("Platform", choice)),
    paramsBox,
    h("div", { class: "action-row" }, go));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const query = new URLSearchParams();
    paramsBox.querySelectorAll("input").forEach((input) => query.set(input.name, input.value.trim()));
    window.location.assign(`/oauth/${encodeURIComponent(choice.value)}/start?${query}`);
  });
  return form;
}

// Where approved changes are written back: shown, and for admins changed in place (the POS
// moved) — audited by the server as connection.api_changed.
function apiCell(conn, reload) {
  const shown = h("span", {}, conn.api_base_url ? code(conn.api_base_url) : "—");
  const change = h("button", { class: "btn btn-small", type: "button", dataset: { apiChange: conn.id } }, "Change");
  const input = h("input", {
    type: "url", maxlength: 500, value: conn.api_base_url || "", placeholder: "https://pos.example.com/api",
    "aria-label": `POS API address of ${conn.name}`,
  });
  const save = h("button", { class: "btn btn-primary btn-small", type: "submit" }, "Save");
  const cancel = h("button", { class: "btn btn-small", type: "button" }, "Cancel");
  const out = h("div", {});
  const form = h("form", { class: "inline-form", hidden: true }, input, save, cancel, out);
  change.addEventListener("click", () => {
    form.hidden = false;
    change.hidden = true;
    input.focus();
  });
  cancel.addEventListener("click", () => {
    form.hidden = true;
    change.hidden = false;
    input.value = conn.api_base_url || "";
    replaceChildren(out);
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replaceChildren(out);
    try {
      await busy(save, "Saving…", () => api(`/v1/connections/${encodeURIComponent(conn.id)}`, {
        method: "PATCH", body: { api_base_url: input.value.trim() || null },
      }));
      await reload();
    } catch (err) {
      replaceChildren(out, errorNotice(err, "Not changed"));
    }
  });
  return h("div", {}, shown, " ", change, form);
}

function backfillButton(conn) {
  const button = h("button", { class: "btn", type: "button", dataset: { backfill: conn.id } }, "Backfill");
  const out = h("span", { class: "sub" });
  button.addEventListener("click", async () => {
    replaceChildren(out);
    try {
      await busy(button, "Starting…", () => api(`/v1/connections/${encodeURIComponent(conn.id)}/backfill`, {
        method: "POST", body: {},
      }));
      replaceChildren(out, "started: history flows in through the pipeline");
    } catch (err) {
      replaceChildren(out, errorNotice(err, "Not started"));
    }
  });
  return h("div", {}, button, out);
}

function createForm(ctx, reload) {
  const platform = h("input", { type: "text", id: "conn-platform", list: "conn-platforms", value: "generic", required: true, autocapitalize: "off", spellcheck: "false" });
  const name = h("input", { type: "text", id: "conn-name", required: true, maxlength: 200, placeholder: "e.g. Downtown store" });
  const secret = h("input", { type: "password", id: "conn-secret", required: true, autocomplete: "new-password" });
  const apiUrl = h("input", { type: "url", id: "conn-api", placeholder: "https://pos.example.com/api", maxlength: 500 });
  const result = h("div", { id: "conn-result" });
  const submit = h("button", { class: "btn btn-primary", type: "submit" }, "Add connection");
  const form = h("form", { class: "card card-wide form-card", id: "conn-form", "aria-labelledby": "conn-form-title" },
    h("h2", { id: "conn-form-title" }, "Add a connection"),
    h("div", { class: "form-grid" },
      field("Platform", platform),
      field("Name", name),
      field("Webhook signing secret", secret, "The secret the POS signs its webhooks with. Stored encrypted; never shown again."),
      field("POS API address (optional)", apiUrl, "Where approved changes are written back."),
    ),
    h("datalist", { id: "conn-platforms" }, PLATFORMS.map((p) => h("option", { value: p }))),
    h("div", { class: "action-row" }, submit),
    result,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replaceChildren(result);
    try {
      const created = await busy(submit, "Adding…", () => api("/v1/connections", {
        method: "POST",
        body: {
          platform: platform.value.trim(),
          name: name.value.trim(),
          secret: secret.value,
          api_base_url: apiUrl.value.trim() || null,
        },
      }));
      secret.value = "";
      name.value = "";
      replaceChildren(result, notice("ok", `Added “${created.name}”. Point the POS's webhooks at `,
        code(`${window.location.origin}${created.webhook_path}`), "."));
      await reload();
    } catch (err) {
      replaceChildren(result, errorNotice(err, "Not added"));
    }
  });
  return form;
}

export default {
  path: "/connections",
  title: "Connections",
  permission: "connections:read",
  render,
};
