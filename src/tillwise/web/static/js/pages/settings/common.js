// Pieces the settings sections share.

import { h } from "../../dom.js";

/** A list of checkboxes (stores, regions): `{el, values()}`; `values()` keeps the list's order. */
export function checkList(options, selected, { name, label, id }) {
  const chosen = new Set(selected || []);
  const boxes = options.map(([value, text]) => h("input", {
    type: "checkbox", name, value, checked: chosen.has(value),
  }));
  const el = h("fieldset", { class: "checks", id },
    h("legend", {}, label),
    options.length
      ? boxes.map((box, i) => h("label", { class: "check" }, box, h("span", {}, options[i][1])))
      : h("p", { class: "muted small" }, "None to choose from."));
  return { el, values: () => boxes.filter((b) => b.checked).map((b) => b.value) };
}

/** "12.50" or "" → the string the API takes for a decimal amount, or null when blank. */
export function amountOrNull(text) {
  const value = String(text || "").trim();
  return value === "" ? null : value;
}

export function storeOptions(stores) {
  return stores.map((s) => [s.store, s.name]);
}
