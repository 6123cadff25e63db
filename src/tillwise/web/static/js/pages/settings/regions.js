// Regions: named groups of stores. A regional manager given a region sees and decides for
// every store in it; changing a region applies to them at once.

import { api } from "../../api.js";
import { busy, empty, errorNotice, field, h, notice, replaceChildren } from "../../dom.js";
import { checkList, storeOptions } from "./common.js";

async function render(root, ctx) {
  const write = ctx.can("settings:write");
  const list = h("div", { id: "region-list" });
  let stores;
  let form = null;
  const load = async () => {
    const body = await api("/v1/regions", { signal: ctx.signal });
    replaceChildren(list, body.data.length
      ? h("table", { class: "table", id: "regions-table" },
        h("caption", { class: "visually-hidden" }, "Regions"),
        h("thead", {}, h("tr", {}, ["Region", "Stores", ""].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, body.data.map((r) => h("tr", { dataset: { region: r.name } },
          h("td", {}, r.name),
          h("td", {}, r.stores.map(ctx.storeName).join(", ") || "No stores"),
          h("td", {}, form ? h("button", { class: "btn btn-small", type: "button", onclick: () => form.fill(r) }, "Edit") : null),
        ))))
      : empty("No regions yet", write ? "Group stores into a region below." : ""));
  };
  try {
    stores = await ctx.stores();
    if (write) form = regionForm(stores, load);
    await load();
  } catch (err) {
    if (err.name === "AbortError") return;
    replaceChildren(root, errorNotice(err, "The regions could not be loaded"));
    return;
  }
  replaceChildren(root, list, form ? form.el : null);
}

function regionForm(stores, reload) {
  const name = h("input", { type: "text", id: "region-name", required: true, maxlength: 100, placeholder: "e.g. North" });
  const holder = h("div", {});
  let picker = checkList(storeOptions(stores), [], { name: "region-stores", label: "Stores", id: "region-stores" });
  holder.appendChild(picker.el);
  const result = h("div", {});
  const submit = h("button", { class: "btn btn-primary", type: "submit" }, "Save region");
  const el = h("form", { class: "card card-wide form-card", id: "region-form", "aria-labelledby": "region-form-title" },
    h("h2", { id: "region-form-title" }, "Set a region"),
    field("Name", name), holder,
    h("div", { class: "action-row" }, submit), result);
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    replaceChildren(result);
    try {
      const r = await busy(submit, "Saving…", () => api(`/v1/regions/${encodeURIComponent(name.value.trim())}`, {
        method: "PUT", body: { stores: picker.values() },
      }));
      replaceChildren(result, notice("ok", `Region ${r.name} now has ${r.stores.length} store(s).`));
      await reload();
    } catch (err) {
      replaceChildren(result, errorNotice(err, "Not saved"));
    }
  });
  const fill = (r) => {
    name.value = r.name;
    picker = checkList(storeOptions(stores), r.stores, { name: "region-stores", label: "Stores", id: "region-stores" });
    replaceChildren(holder, picker.el);
    el.scrollIntoView({ block: "start" });
  };
  return { el, fill };
}

export default { id: "regions", title: "Regions", permission: "settings:read", render };
