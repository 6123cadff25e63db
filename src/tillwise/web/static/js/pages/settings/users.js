// Users: the people who use the dashboard, their role and store scope (stores, or regions of
// stores). Roles that may (admins) add people, change a role or scope, and disable or enable
// an account; disabling ends that person's sessions at once.

import { api } from "../../api.js";
import { busy, empty, errorNotice, field, h, notice, pill, replaceChildren, select } from "../../dom.js";
import { formatDateTime, humanize, ROLES } from "../../format.js";
import { checkList, storeOptions } from "./common.js";

const UNSCOPED = new Set(["admin", "viewer"]);

async function render(root, ctx) {
  const write = ctx.can("users:write");
  const tbody = h("tbody");
  const state = h("div");
  const tableEl = h("table", { class: "table", id: "users-table" },
    h("caption", { class: "visually-hidden" }, "Users"),
    h("thead", {}, h("tr", {}, ["Person", "Role", "Scope", "Status", "Last login", ""].map((t) => h("th", { scope: "col" }, t)))),
    tbody);
  let stores;
  let regions;
  try {
    [stores, regions] = await Promise.all([
      ctx.stores(),
      ctx.can("settings:read") ? api("/v1/regions", { signal: ctx.signal }).then((b) => b.data) : Promise.resolve([]),
    ]);
  } catch (err) {
    if (err.name === "AbortError") return;
    replaceChildren(root, errorNotice(err, "The users could not be loaded"));
    return;
  }
  const scopeText = (u) => {
    if (UNSCOPED.has(u.role)) return "All stores";
    const parts = [...u.stores.map(ctx.storeName), ...u.regions.map((r) => `region ${r}`)];
    return parts.join(", ") || "No stores";
  };
  const load = async () => {
    const body = await api("/v1/users", { signal: ctx.signal });
    replaceChildren(state, body.data.length ? null : empty("No users yet"));
    replaceChildren(tbody, body.data.map((u) => {
      const row = h("tr", { dataset: { id: u.id, username: u.username } },
        h("td", {}, u.display_name, h("span", { class: "sub" }, u.username)),
        h("td", {}, humanize(u.role)),
        h("td", {}, scopeText(u)),
        h("td", {}, u.disabled ? pill("Disabled", "bad") : pill("Active", "ok")),
        h("td", { class: "nowrap" }, u.last_login_at ? formatDateTime(u.last_login_at) : "never"),
        h("td", {}, write ? h("button", {
          class: "btn btn-small", type: "button", "aria-label": `Edit ${u.username}`,
          onclick: () => row.after(editRow(u, stores, regions, ctx, load)),
        }, "Edit") : null),
      );
      return row;
    }));
  };
  try {
    await load();
  } catch (err) {
    if (err.name === "AbortError") return;
    replaceChildren(root, errorNotice(err, "The users could not be loaded"));
    return;
  }
  replaceChildren(root, state, h("div", { class: "scroll-x" }, tableEl),
    write ? addForm(stores, regions, load) : null);
}

function scopeFields(stores, regions, user, prefix) {
  const storePick = checkList(storeOptions(stores), user ? user.stores : [], {
    name: `${prefix}-stores`, label: "Stores", id: `${prefix}-stores`,
  });
  const regionPick = checkList(regions.map((r) => [r.name, r.name]), user ? user.regions : [], {
    name: `${prefix}-regions`, label: "Regions", id: `${prefix}-regions`,
  });
  return { storePick, regionPick };
}

function editRow(u, stores, regions, ctx, reload) {
  const role = select(ROLES.map((r) => [r, humanize(r)]), u.role, { "aria-label": `Role of ${u.username}` });
  const name = h("input", { type: "text", value: u.display_name, maxlength: 200, "aria-label": `Name of ${u.username}` });
  const disabled = h("input", { type: "checkbox", checked: u.disabled });
  const { storePick, regionPick } = scopeFields(stores, regions, u, `edit-${u.id}`);
  const result = h("div", {});
  const save = h("button", { class: "btn btn-primary", type: "submit" }, "Save");
  const cancel = h("button", { class: "btn", type: "button" }, "Cancel");
  const form = h("form", { class: "edit-user" },
    h("div", { class: "form-grid" }, field("Role", role), field("Name", name)),
    h("div", { class: "form-grid" }, storePick.el, regionPick.el),
    h("label", { class: "check" }, disabled, h("span", {}, "Disabled (can't log in; ends their sessions)")),
    h("div", { class: "action-row" }, save, cancel),
    result);
  const row = h("tr", { class: "edit-row" }, h("td", { colspan: 6 }, form));
  cancel.addEventListener("click", () => row.remove());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replaceChildren(result);
    const body = {
      role: role.value,
      display_name: name.value.trim() || null,
      stores: storePick.values(),
      regions: regionPick.values(),
      disabled: disabled.checked,
    };
    try {
      await busy(save, "Saving…", () => api(`/v1/users/${encodeURIComponent(u.id)}`, { method: "PATCH", body }));
      await reload();
    } catch (err) {
      replaceChildren(result, errorNotice(err, "Not saved"));
    }
  });
  return row;
}

function addForm(stores, regions, reload) {
  const username = h("input", { type: "text", id: "user-username", required: true, autocomplete: "off", autocapitalize: "off", spellcheck: "false", maxlength: 100 });
  const name = h("input", { type: "text", id: "user-name", maxlength: 200 });
  const password = h("input", { type: "password", id: "user-password", required: true, minlength: 12, autocomplete: "new-password" });
  const role = select(ROLES.map((r) => [r, humanize(r)]), "associate", { id: "user-role" });
  const { storePick, regionPick } = scopeFields(stores, regions, null, "new-user");
  const result = h("div", {});
  const submit = h("button", { class: "btn btn-primary", type: "submit" }, "Add user");
  const form = h("form", { class: "card card-wide form-card", id: "user-form", "aria-labelledby": "user-form-title" },
    h("h2", { id: "user-form-title" }, "Add a person"),
    h("div", { class: "form-grid" },
      field("Username", username), field("Name", name),
      field("Password", password, "At least 12 characters; they can change it later."),
      field("Role", role)),
    h("div", { class: "form-grid" }, storePick.el, regionPick.el),
    h("p", { class: "muted small" }, "Store roles need at least one store or region; admins and viewers see every store."),
    h("div", { class: "action-row" }, submit),
    result);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replaceChildren(result);
    try {
      const u = await busy(submit, "Adding…", () => api("/v1/users", {
        method: "POST",
        body: {
          username: username.value.trim(),
          password: password.value,
          role: role.value,
          display_name: name.value.trim() || null,
          stores: storePick.values(),
          regions: regionPick.values(),
        },
      }));
      password.value = "";
      username.value = "";
      name.value = "";
      replaceChildren(result, notice("ok", `Added ${u.username} as ${humanize(u.role).toLowerCase()}.`));
      await reload();
    } catch (err) {
      replaceChildren(result, errorNotice(err, "Not added"));
    }
  });
  return form;
}

export default { id: "users", title: "Users", permission: "users:read", render };
