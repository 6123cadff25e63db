// Approval rules per proposal kind and store ("any" for either): above one value a regional
// manager (or admin) must approve, above another two different people must; a proposal to a
// new vendor may need a regional manager; pending proposals expire after some hours. The most
// specific rule wins (kind + store, kind, store, the default).

import { api } from "../../api.js";
import { busy, empty, errorNotice, field, h, notice, replaceChildren, select } from "../../dom.js";
import { humanize, PROPOSAL_KINDS } from "../../format.js";
import { amountOrNull, storeOptions } from "./common.js";

const ANY = "*";

async function render(root, ctx) {
  const write = ctx.can("settings:write");
  const tbody = h("tbody");
  const state = h("div");
  const tableEl = h("table", { class: "table", id: "rules-table" },
    h("caption", { class: "visually-hidden" }, "Approval rules"),
    h("thead", {}, h("tr", {}, ["Kind", "Store", "Regional manager above", "Two approvers above",
      "New vendor needs regional", "Expires after", ""].map((t) => h("th", { scope: "col" }, t)))),
    tbody);
  let stores = [];
  let form = null;
  const load = async () => {
    const body = await api("/v1/approval-rules", { signal: ctx.signal });
    tableEl.hidden = body.data.length === 0;
    replaceChildren(state, body.data.length ? null : empty("No rules: the defaults apply",
      "One approval by any approver who may decide the kind; a new vendor needs a regional manager; pending proposals expire after 72 hours."));
    replaceChildren(tbody, body.data.map((r) => h("tr", { dataset: { kind: r.kind, store: r.store } },
      h("td", {}, r.kind === ANY ? "Any kind" : humanize(r.kind)),
      h("td", {}, r.store === ANY ? "Any store" : ctx.storeName(r.store)),
      h("td", { class: "num" }, r.regional_above ?? "—"),
      h("td", { class: "num" }, r.two_approvers_above ?? "—"),
      h("td", {}, r.new_vendor_needs_regional ? "Yes" : "No"),
      h("td", { class: "num" }, `${r.expire_after_hours} h`),
      h("td", {}, form ? h("button", { class: "btn btn-small", type: "button", onclick: () => form.fill(r) }, "Edit") : null),
    )));
  };
  try {
    stores = await ctx.stores();
    if (write) form = ruleForm(stores, ctx.me.stores === null, load);
    await load();
  } catch (err) {
    if (err.name === "AbortError") return;
    replaceChildren(root, errorNotice(err, "The approval rules could not be loaded"));
    return;
  }
  replaceChildren(root,
    h("p", { class: "lead" }, "Amounts are in the proposal's own currency."),
    state, h("div", { class: "scroll-x" }, tableEl), form ? form.el : null);
}

function ruleForm(stores, everyStore, reload) {
  const kind = select([[ANY, "Any kind"], ...PROPOSAL_KINDS.map((k) => [k, humanize(k)])], ANY, { id: "rule-kind" });
  const storeChoices = [...(everyStore ? [[ANY, "Any store"]] : []), ...storeOptions(stores)];
  const store = select(storeChoices, storeChoices[0] && storeChoices[0][0], { id: "rule-store" });
  const regional = h("input", { type: "text", inputmode: "decimal", id: "rule-regional", placeholder: "no threshold" });
  const two = h("input", { type: "text", inputmode: "decimal", id: "rule-two", placeholder: "no threshold" });
  const vendor = h("input", { type: "checkbox", id: "rule-vendor", checked: true });
  const hours = h("input", { type: "number", id: "rule-hours", min: 1, max: 2160, value: 72 });
  const result = h("div", {});
  const submit = h("button", { class: "btn btn-primary", type: "submit" }, "Save rule");
  const el = h("form", { class: "card card-wide form-card", id: "rule-form", "aria-labelledby": "rule-form-title" },
    h("h2", { id: "rule-form-title" }, "Set a rule"),
    h("div", { class: "form-grid" },
      field("Kind", kind), field("Store", store),
      field("Regional manager must approve above", regional),
      field("Two approvers needed above", two),
      field("Pending proposals expire after (hours)", hours)),
    h("label", { class: "check" }, vendor, h("span", {}, "A proposal to a new vendor needs a regional manager")),
    h("div", { class: "action-row" }, submit),
    result);
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    replaceChildren(result);
    try {
      await busy(submit, "Saving…", () => api("/v1/approval-rules", {
        method: "PUT",
        body: {
          kind: kind.value,
          store: store.value,
          regional_above: amountOrNull(regional.value),
          two_approvers_above: amountOrNull(two.value),
          new_vendor_needs_regional: vendor.checked,
          expire_after_hours: Number(hours.value),
        },
      }));
      replaceChildren(result, notice("ok", "Rule saved."));
      await reload();
    } catch (err) {
      replaceChildren(result, errorNotice(err, "Not saved"));
    }
  });
  const fill = (r) => {
    kind.value = r.kind;
    store.value = r.store;
    regional.value = r.regional_above ?? "";
    two.value = r.two_approvers_above ?? "";
    vendor.checked = r.new_vendor_needs_regional;
    hours.value = r.expire_after_hours;
    el.scrollIntoView({ block: "start" });
    regional.focus();
  };
  return { el, fill };
}

export default { id: "rules", title: "Approval rules", permission: "settings:read", render };
