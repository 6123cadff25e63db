// Connections: the POS connections and the webhook address each one posts to; roles that may
// (admins) add one — the signing secret is sent once and stored encrypted by the server.

import { api } from "../api.js";
import { busy, code, empty, errorNotice, field, h, notice, pill, replaceChildren } from "../dom.js";
import { formatDateTime } from "../format.js";

const PLATFORMS = ["generic"]; // suggestions; the server names the ones it knows when refused

async function render(root, ctx) {
  const state = h("div", { id: "conn-state" });
  const tbody = h("tbody");
  const tableEl = h("table", { class: "table", id: "connections-table", hidden: true },
    h("caption", { class: "visually-hidden" }, "POS connections"),
    h("thead", {}, h("tr", {}, ["Name", "Platform", "Status", "Webhook address", "Writes back to", "Created"].map((t) => h("th", { scope: "col" }, t)))),
    tbody);
  const form = ctx.can("connections:write") ? createForm(ctx, () => load()) : null;
  replaceChildren(root,
    h("div", { class: "page-head" }, h("h1", {}, "Connections")),
    h("section", { class: "card card-wide" }, state, h("div", { class: "scroll-x" }, tableEl)),
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
      h("td", { class: "break" }, c.api_base_url ? code(c.api_base_url) : "—"),
      h("td", { class: "nowrap" }, formatDateTime(c.created_at)),
    )));
  };
  try {
    await load();
  } catch (err) {
    if (err.name === "AbortError") return;
    replaceChildren(state, errorNotice(err, "The connections could not be loaded"));
  }
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
