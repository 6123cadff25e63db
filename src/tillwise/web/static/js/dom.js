// A tiny element builder. Text always goes in as text nodes (never parsed as HTML), so names,
// errors and payloads that came from a POS cannot inject markup into the page.

import { describe } from "./api.js";

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name === "value" && "value" in el) el.value = value;
    else if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

export function replaceChildren(el, ...children) {
  el.textContent = "";
  append(el, children);
}

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

export const code = (text) => h("code", {}, text);

/** A card's state line inside `root`: no parts → hidden; kind "empty" or "error" otherwise. */
export function setCardState(root, name, kind, ...parts) {
  const el = root.querySelector(`.card-state[data-for="${name}"]`);
  if (!el) return;
  el.classList.toggle("error", kind === "error");
  el.setAttribute("role", kind === "error" ? "alert" : "status");
  replaceChildren(el, ...parts);
}

/** A notice: kind "info" | "ok" | "error" | "empty". Errors are announced (role=alert). */
export function notice(kind, ...parts) {
  return h("div", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, ...parts);
}

export function errorNotice(err, prefix = "") {
  return notice("error", prefix ? `${prefix}: ${describe(err)}` : describe(err));
}

/** An empty state: what is (not) here, and optionally what to do about it. */
export function empty(title, ...hint) {
  return h("div", { class: "empty" }, h("strong", {}, title), hint.length ? h("p", {}, ...hint) : null);
}

/** In place of an amount the server left out (`costs_hidden`): the role has no costs:read. */
export function costHidden() {
  return h("span", { class: "muted cost-hidden" }, "Not shown to your role");
}

export function pill(text, kind = "") {
  return h("span", { class: `pill ${kind}`.trim() }, text);
}

/** A labelled form control: the label wraps the control so taps on it focus the control. */
export function field(label, control, hint = null) {
  return h("label", { class: "field" },
    h("span", { class: "field-label" }, label),
    control,
    hint ? h("span", { class: "field-hint" }, hint) : null,
  );
}

/** A <select> from [value, text] pairs (or plain values), with `selected` chosen. */
export function select(options, selected, attrs = {}) {
  const el = h("select", attrs, options.map((o) => {
    const [value, text] = Array.isArray(o) ? o : [o, o];
    return h("option", { value }, text);
  }));
  el.value = selected ?? "";
  return el;
}

/** A definition list from [term, value] pairs, skipping pairs whose value is null. */
export function facts(pairs, attrs = {}) {
  return h("dl", { class: "facts", ...attrs }, pairs
    .filter(([, v]) => v !== null && v !== undefined && v !== "")
    .map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v))));
}

/** Pretty JSON in a <pre>, for payloads and audit inputs/outputs. */
export function json(value) {
  return h("pre", { class: "json" }, JSON.stringify(value, null, 2));
}

/** Run `action` with `button` showing `busyText` and disabled until it settles. */
export async function busy(button, busyText, action) {
  const text = button.textContent;
  button.disabled = true;
  button.textContent = busyText;
  try {
    return await action();
  } finally {
    button.disabled = false;
    button.textContent = text;
  }
}

/** An inline form that Cancel and the Escape key both close with `close`. */
export function closable(form, cancel, close) {
  cancel.addEventListener("click", close);
  form.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      close();
    }
  });
}
