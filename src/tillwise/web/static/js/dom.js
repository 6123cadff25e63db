// A tiny element builder. Text always goes in as text nodes (never parsed as HTML), so names,
// errors and payloads that came from a POS cannot inject markup into the page.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
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

/** A card's state line: empty → hidden; {kind: "empty"|"error", parts: [...]} otherwise. */
export function setCardState(name, kind, ...parts) {
  const el = document.querySelector(`.card-state[data-for="${name}"]`);
  if (!el) return;
  el.classList.toggle("error", kind === "error");
  el.setAttribute("role", kind === "error" ? "alert" : "status");
  replaceChildren(el, ...parts);
}
