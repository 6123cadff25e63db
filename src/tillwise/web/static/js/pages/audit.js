// Audit: every recorded action, newest first — filter by actor, action, store and time; page
// back through older entries; open an entry to see its inputs and outputs; export what the
// filters match as CSV or JSON Lines (the export is itself audited). Store-scoped roles see
// the entries about their stores only (the server filters).

import { api, query } from "../api.js";
import { busy, empty, errorNotice, field, h, json, replaceChildren, select } from "../dom.js";
import { formatDateTime, isoToLocalInput, localInputToIso } from "../format.js";

const PAGE_SIZE = 50;
// Actions worth suggesting in the filter (any text is accepted).
const ACTIONS = [
  "proposal.queued", "proposal.approved", "proposal.applied", "proposal.rejected",
  "proposal.reverted", "proposal.auto_approved", "proposal.shadowed", "proposal.expired",
  "proposal.approval_added", "proposal.write_failed", "mode.changed", "rule.changed", "rollout.started", "rollout.advanced",
  "rollout.rolled_back", "user.added", "user.updated", "user.disabled", "user.login", "user.login_failed",
  "connection.created", "token.created", "region.set", "deadletter.replayed", "audit.exported",
];

function filtersFrom(q) {
  return {
    actor: q.get("actor") || "",
    action: q.get("action") || "",
    store: q.get("store") || "",
    since: q.get("since") || "",
    until: q.get("until") || "",
  };
}

async function render(root, ctx) {
  const filters = filtersFrom(ctx.query);
  const [stores] = await Promise.all([ctx.stores().catch(() => []), ctx.people()]);

  const actor = h("input", { type: "text", id: "audit-actor", value: filters.actor, placeholder: "user:usr_… or workflow:…", spellcheck: "false", autocapitalize: "off" });
  const action = h("input", { type: "text", id: "audit-action", value: filters.action, list: "audit-actions", placeholder: "e.g. proposal.approved", spellcheck: "false", autocapitalize: "off" });
  const store = select([["", "All my stores"], ...stores.map((s) => [s.store, s.name])], filters.store, { id: "audit-store" });
  const since = h("input", { type: "datetime-local", id: "audit-since", value: filters.since ? isoToLocalInput(filters.since) : "" });
  const until = h("input", { type: "datetime-local", id: "audit-until", value: filters.until ? isoToLocalInput(filters.until) : "" });
  const form = h("form", { class: "filters filters-wide", role: "search", "aria-label": "Filter the audit log" },
    field("Actor", actor), field("Action", action), field("Store", store),
    field("From (your time)", since), field("Until (your time)", until),
    h("div", { class: "filter-buttons" },
      h("button", { class: "btn btn-primary", type: "submit" }, "Apply"),
      h("a", { class: "btn", href: "#/audit" }, "Clear")),
    h("datalist", { id: "audit-actions" }, ACTIONS.map((a) => h("option", { value: a }))),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    ctx.navigate(`#/audit${query({
      actor: actor.value.trim(), action: action.value.trim(), store: store.value,
      since: localInputToIso(since.value), until: localInputToIso(until.value),
    })}`);
  });

  const exportLinks = ctx.can("audit:export")
    ? h("div", { class: "exports", id: "audit-export" }, h("span", { class: "muted small" }, "Export what matches:"),
      ["csv", "jsonl"].map((format) => h("a", {
        class: "btn btn-small",
        href: `/v1/audit/export${query({ ...filters, format })}`,
        download: `tillwise-audit.${format}`,
        dataset: { format },
      }, format === "csv" ? "CSV" : "JSON Lines")))
    : null;

  const tbody = h("tbody");
  const tableEl = h("table", { class: "table audit", id: "audit-table", hidden: true },
    h("caption", { class: "visually-hidden" }, "Audit log entries, newest first"),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "When"), h("th", { scope: "col" }, "Action"),
      h("th", { scope: "col" }, "Actor"), h("th", { scope: "col" }, "Store"),
      h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Details")))),
    tbody);
  const state = h("div", { id: "audit-state" });
  const more = h("button", { class: "btn", type: "button", id: "audit-more", hidden: true }, "Older entries");

  replaceChildren(root,
    h("div", { class: "page-head" }, h("h1", {}, "Audit log"), exportLinks),
    form, state, h("div", { class: "scroll-x" }, tableEl), h("div", { class: "more-row" }, more));

  let beforeId = null;
  const load = async () => {
    const body = await api(`/v1/audit${query({ ...filters, limit: PAGE_SIZE, before_id: beforeId })}`, { signal: ctx.signal });
    for (const entry of body.data) tbody.append(...entryRows(entry, ctx));
    beforeId = body.next_before_id;
    more.hidden = !beforeId;
    tableEl.hidden = tbody.children.length === 0;
    const filtered = Object.values(filters).some(Boolean);
    replaceChildren(state, tbody.children.length === 0
      ? empty(filtered ? "No entries match these filters" : "The audit log is empty")
      : null);
  };
  more.addEventListener("click", () => busy(more, "Loading…", () => load().catch((err) => {
    state.appendChild(errorNotice(err));
  })));
  try {
    await load();
  } catch (err) {
    if (err.name === "AbortError") return;
    replaceChildren(state, errorNotice(err, "The audit log could not be loaded"));
  }
}

function entryRows(e, ctx) {
  const detailsId = `audit-details-${e.id}`;
  const detail = h("tr", { class: "audit-detail", id: detailsId, hidden: true },
    h("td", { colspan: 5 },
      h("div", { class: "io" },
        h("div", {}, h("h3", {}, "Inputs"), e.inputs ? json(e.inputs) : h("p", { class: "muted" }, "None")),
        h("div", {}, h("h3", {}, "Outputs"), e.outputs ? json(e.outputs) : h("p", { class: "muted" }, "None")),
      ),
      h("p", { class: "muted small hash" }, `Entry ${e.id} · hash ${e.hash.slice(0, 16)}… · previous ${e.prev_hash.slice(0, 16)}…`),
    ));
  const open = h("button", {
    class: "btn btn-small", type: "button", "aria-expanded": "false", "aria-controls": detailsId,
    "aria-label": `Details of entry ${e.id}`,
  }, "Details");
  open.addEventListener("click", () => {
    detail.hidden = !detail.hidden;
    open.setAttribute("aria-expanded", String(!detail.hidden));
    open.textContent = detail.hidden ? "Details" : "Hide";
  });
  const name = ctx.actorName(e.actor);
  const who = name === e.actor ? null : name;
  return [
    h("tr", { class: "audit-row", dataset: { id: e.id, action: e.action } },
      h("td", { class: "nowrap", title: e.at }, formatDateTime(e.at)),
      h("td", { class: "action" }, h("code", {}, e.action)),
      h("td", { class: "actor" }, who || e.actor, who ? h("span", { class: "sub" }, e.actor) : null),
      h("td", {}, e.store ? ctx.storeName(e.store) : "—"),
      h("td", { class: "num" }, open),
    ),
    detail,
  ];
}

export default {
  path: "/audit",
  title: "Audit",
  permission: "audit:read",
  render,
};
