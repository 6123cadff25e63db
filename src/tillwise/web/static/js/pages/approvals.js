// Approvals: the queue of proposals (filters: status, kind, store; pending by default) and one
// proposal in full — what it says and why, what it would change, what it is worth, who must
// approve and by when, the approval trail — with Approve, Edit then approve, Reject (with a
// reason) and Revert (applied ones) for roles that may decide. The server checks every
// decision (role, kind, store, own proposal, senior approver); its refusals show in place.

import { api, ApiError, query } from "../api.js";
import { busy, costHidden, empty, errorNotice, facts, field, h, json, notice, pill, replaceChildren, select } from "../dom.js";
import { explainer } from "../explain.js";
import {
  formatDateTime, formatValue, humanize, PROPOSAL_KINDS, PROPOSAL_STATUSES, statusKind,
} from "../format.js";
import { decisionPanel, needsText, orderFacts, orderLines } from "../proposals.js";

const PAGE_SIZE = 25;

let lastListHash = "#/approvals";

// ---- the list ------------------------------------------------------------------------------

function filtersFrom(q) {
  return {
    status: q.has("status") ? q.get("status") : "pending",
    kind: q.get("kind") || "",
    store: q.get("store") || "",
  };
}

function listHash(filters) {
  return `#/approvals${query({ status: filters.status === "pending" ? "" : filters.status || "any", kind: filters.kind, store: filters.store })}`;
}

async function renderList(root, ctx) {
  const filters = filtersFrom(ctx.query);
  if (filters.status === "any") filters.status = "";
  lastListHash = window.location.hash || "#/approvals";
  const stores = await ctx.stores().catch(() => []);

  const change = () => ctx.navigate(listHash({
    status: statusSel.value, kind: kindSel.value, store: storeSel.value,
  }));
  const statusSel = select([["", "Any status"], ...PROPOSAL_STATUSES.map((s) => [s, humanize(s)])],
    filters.status, { id: "filter-status", onchange: change });
  const kindSel = select([["", "Any kind"], ...PROPOSAL_KINDS.map((k) => [k, humanize(k)])],
    filters.kind, { id: "filter-kind", onchange: change });
  const storeSel = select([["", "All my stores"], ...stores.map((s) => [s.store, s.name])],
    filters.store, { id: "filter-store", onchange: change });

  const list = h("ul", { class: "plist", id: "proposal-list", "aria-live": "polite" });
  const more = h("button", { class: "btn", type: "button", id: "more", hidden: true }, "Show more");
  const status = h("div", { id: "list-state" });
  replaceChildren(root,
    h("div", { class: "page-head" },
      h("h1", {}, "Approvals"),
      h("form", { class: "filters", role: "search", "aria-label": "Filter proposals", onsubmit: (e) => e.preventDefault() },
        field("Status", statusSel), field("Kind", kindSel), field("Store", storeSel)),
    ),
    status, list, h("div", { class: "more-row" }, more),
  );

  let before = null;
  const load = async () => {
    const body = await api(`/v1/proposals${query({
      status: filters.status, kind: filters.kind, store: filters.store, limit: PAGE_SIZE, before,
    })}`, { signal: ctx.signal });
    for (const p of body.data) list.appendChild(proposalItem(p, ctx));
    before = body.next_before;
    more.hidden = !before;
    if (list.children.length === 0) {
      const narrowed = filters.kind || filters.store;
      replaceChildren(status, filters.status === "pending"
        ? empty(narrowed ? "No proposals waiting for these filters" : "No proposals waiting",
          "New proposals appear here when a workflow in draft mode suggests something, or when someone proposes a change.")
        : empty("No proposals match these filters"));
    } else replaceChildren(status);
  };
  more.addEventListener("click", () => busy(more, "Loading…", () => load().catch((err) => {
    status.appendChild(errorNotice(err));
  })));
  try {
    await load();
  } catch (err) {
    if (err.name === "AbortError") return;
    replaceChildren(status, errorNotice(err, "The proposals could not be loaded"));
  }
}

function proposalItem(p, ctx) {
  return h("li", { class: "proposal", dataset: { id: p.id, status: p.status } },
    h("a", { href: `#/approvals/${encodeURIComponent(p.id)}`, class: "proposal-link" },
      h("span", { class: "proposal-main" },
        h("strong", { class: "proposal-summary" }, p.summary),
        h("span", { class: "muted small" },
          `${humanize(p.kind)} · ${ctx.storeName(p.store)} · ${formatDateTime(p.created_at)}`,
          p.status === "pending" && p.expires_at ? ` · expires ${formatDateTime(p.expires_at)}` : ""),
      ),
      h("span", { class: "proposal-side" },
        p.value ? h("span", { class: "value" }, formatValue(p.value)) : null,
        pill(humanize(p.status), statusKind(p.status)),
      ),
    ),
  );
}

// ---- one proposal --------------------------------------------------------------------------

async function renderDetail(root, ctx, id) {
  const back = h("a", { class: "back", href: lastListHash }, "← All approvals");
  replaceChildren(root, back, h("p", { class: "muted" }, "Loading…"));
  let p;
  try {
    [p] = await Promise.all([
      api(`/v1/proposals/${encodeURIComponent(id)}`, { signal: ctx.signal }),
      ctx.people(),
      ctx.stores().catch(() => []),
    ]);
  } catch (err) {
    if (err.name === "AbortError") return;
    replaceChildren(root, back, h("h1", {}, "Proposal"),
      errorNotice(err, err instanceof ApiError && err.status === 404 ? "" : "The proposal could not be loaded"));
    return;
  }
  drawDetail(root, ctx, p, back, null);
}

function drawDetail(root, ctx, p, back, message) {
  const trail = p.approvals.length
    ? h("ol", { class: "trail", id: "trail" }, p.approvals.map((a) => h("li", {},
      h("strong", {}, a.name || a.by), ` (${humanize(a.role)}) approved`,
      a.edited ? " after editing" : "",
      ` · ${formatDateTime(a.at)}`,
      a.comment ? h("span", { class: "comment" }, `“${a.comment}”`) : null)))
    : h("p", { class: "muted", id: "trail" }, "No approvals yet.");
  const decision = p.decided_by ? facts([
    ["Decided by", ctx.actorName(p.decided_by)],
    ["Decided", p.decided_at ? formatDateTime(p.decided_at) : null],
    ["Reason", p.reason],
  ]) : p.reason ? notice("info", `Why it waits for a person: ${p.reason}.`) : null;

  replaceChildren(root,
    back,
    h("div", { class: "detail-head" },
      h("h1", { id: "proposal-summary" }, p.summary),
      h("span", { id: "proposal-status", dataset: { status: p.status } }, pill(humanize(p.status), statusKind(p.status))),
    ),
    message,
    h("div", { class: "detail-grid" },
      h("section", { class: "card", "aria-labelledby": "why-title" },
        h("h2", { id: "why-title" }, "Why"),
        h("p", { class: "explanation" }, p.explanation || "No explanation was given."),
        explainer(`/v1/proposals/${encodeURIComponent(p.id)}/explain`),
        h("h2", {}, "What it changes"),
        p.kind === "draft_purchase_order"
          ? [orderFacts(p, { id: "order-facts" }), orderLines(p),
            h("details", { class: "more" }, h("summary", {}, "The whole order as sent"), json(p.payload))]
          : payloadTable(p.payload),
        Object.keys(p.inputs || {}).length
          ? h("details", { class: "more" }, h("summary", {}, "Inputs the workflow used"), json(p.inputs))
          : null,
      ),
      h("section", { class: "card", "aria-labelledby": "facts-title" },
        h("h2", { id: "facts-title" }, "Details"),
        facts([
          ["Kind", humanize(p.kind)],
          ["Store", ctx.storeName(p.store)],
          ["Value", p.costs_hidden ? costHidden() : formatValue(p.value)],
          ["Proposed by", ctx.actorName(p.proposed_by)],
          ["Workflow", `${p.workflow} ${p.workflow_version}`],
          ["Mode", p.mode],
          ["Created", formatDateTime(p.created_at)],
          ["Expires", p.expires_at ? formatDateTime(p.expires_at) : null],
          ["Needs", needsText(p)],
        ], { id: "proposal-facts" }),
      ),
      decisionPanel(ctx, p, {
        onDecided: (after, kind, text) => drawDetail(root, ctx, after, back, notice(kind, text)),
      }),
      h("section", { class: "card card-wide", "aria-labelledby": "trail-title" },
        h("h2", { id: "trail-title" }, "Approval trail"),
        trail,
        decision,
        p.result ? h("details", { class: "more", open: p.status === "failed" },
          h("summary", {}, "What the POS answered"), json(p.result)) : null,
      ),
    ),
  );
}

function payloadTable(payload) {
  const rows = Object.entries(payload || {});
  if (rows.length === 0) return h("p", { class: "muted" }, "Nothing.");
  return h("table", { class: "table compact", id: "payload" },
    h("tbody", {}, rows.map(([k, v]) => h("tr", { dataset: { key: k } },
      h("th", { scope: "row" }, humanize(k)),
      h("td", {}, typeof v === "object" && v !== null ? json(v) : String(v)),
    ))));
}

export default {
  path: "/approvals",
  title: "Approvals",
  permission: "proposals:read",
  render(root, ctx) {
    if (ctx.rest.length) return renderDetail(root, ctx, ctx.rest.join("/"));
    return renderList(root, ctx);
  },
};

