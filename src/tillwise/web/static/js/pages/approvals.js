// Approvals: the queue of proposals (filters: status, kind, store; pending by default) and one
// proposal in full — what it says and why, what it would change, what it is worth, who must
// approve and by when, the approval trail — with Approve, Edit then approve, Reject (with a
// reason) and Revert (applied ones) for roles that may decide. The server checks every
// decision (role, kind, store, own proposal, senior approver); its refusals show in place.

import { api, ApiError, query } from "../api.js";
import { busy, empty, errorNotice, facts, field, h, json, notice, pill, replaceChildren, select } from "../dom.js";
import {
  formatDateTime, formatValue, humanize, PROPOSAL_KINDS, PROPOSAL_STATUSES, statusKind,
} from "../format.js";

const PAGE_SIZE = 25;
// What an approver may change before approving, per kind (governance.approvals.EDITABLE).
const EDITABLE = { stock_adjustment: [{ name: "delta", label: "Change in units (delta)" }] };

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

function needsText(p) {
  const parts = [p.required_approvals > 1 ? `${p.required_approvals} approvals from different people` : "1 approval"];
  if (p.required_role) parts.push(`including a ${humanize(p.required_role).toLowerCase()} (or admin)`);
  return parts.join(", ");
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
        explainer(p),
        h("h2", {}, "What it changes"),
        payloadTable(p.payload),
        Object.keys(p.inputs || {}).length
          ? h("details", { class: "more" }, h("summary", {}, "Inputs the workflow used"), json(p.inputs))
          : null,
      ),
      h("section", { class: "card", "aria-labelledby": "facts-title" },
        h("h2", { id: "facts-title" }, "Details"),
        facts([
          ["Kind", humanize(p.kind)],
          ["Store", ctx.storeName(p.store)],
          ["Value", formatValue(p.value)],
          ["Proposed by", ctx.actorName(p.proposed_by)],
          ["Workflow", `${p.workflow} ${p.workflow_version}`],
          ["Mode", p.mode],
          ["Created", formatDateTime(p.created_at)],
          ["Expires", p.expires_at ? formatDateTime(p.expires_at) : null],
          ["Needs", needsText(p)],
        ], { id: "proposal-facts" }),
      ),
      actions(root, ctx, p, back),
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

// "In plain words": the server rewords the explanation with the configured language model
// (personal data replaced before anything leaves, the call audited), or — with no model —
// answers with the deterministic explanation and says so.
function explainer(p) {
  const out = h("div", { id: "plain-words" });
  const button = h("button", { class: "btn", type: "button", id: "explain" }, "In plain words");
  button.addEventListener("click", async () => {
    replaceChildren(out);
    try {
      const answer = await busy(button, "Asking…", () =>
        api(`/v1/proposals/${encodeURIComponent(p.id)}/explain`, { method: "POST" }));
      replaceChildren(out,
        h("p", { class: "explanation" }, answer.text),
        h("p", { class: "muted" }, answer.model
          ? `Worded by ${answer.model}; personal data never left in the clear.`
          : "No language model is configured: this is the deterministic explanation."));
    } catch (err) {
      if (err.name !== "AbortError") replaceChildren(out, errorNotice(err));
    }
  });
  return h("div", { class: "explain" }, button, out);
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

function actions(root, ctx, p, back) {
  const section = h("section", { class: "card card-wide actions", id: "actions", "aria-labelledby": "actions-title" },
    h("h2", { id: "actions-title" }, "Decide"));
  const decidable = p.status === "pending" || p.status === "applied";
  if (!ctx.can("proposals:approve")) {
    if (!decidable) return null;
    section.appendChild(notice("info",
      `Your role (${humanize(ctx.me.role)}) can see this proposal but not decide it.`));
    return section;
  }
  if (!decidable) return null;
  const errorBox = h("div", { id: "action-error" });
  const decide = async (button, busyText, path, body, done) => {
    replaceChildren(errorBox);
    try {
      const after = await busy(button, busyText, () => api(path, { method: "POST", body }));
      ctx.refreshCounts();
      drawDetail(root, ctx, after, back, notice(after.status === "failed" ? "error" : "ok", done(after)));
    } catch (err) {
      if (err.name === "AbortError") return;
      replaceChildren(errorBox, errorNotice(err));
      const input = err instanceof ApiError && err.field ? section.querySelector(`[data-field="${err.field}"]`) : null;
      if (input) input.focus();
    }
  };
  const url = (verb) => `/v1/proposals/${encodeURIComponent(p.id)}/${verb}`;

  if (p.status === "pending") {
    const comment = h("input", { type: "text", id: "approve-comment", maxlength: 500, "data-field": "comment" });
    const approve = h("button", { class: "btn btn-primary", type: "button", id: "approve" }, "Approve");
    approve.addEventListener("click", () => decide(approve, "Approving…", url("approve"),
      { comment: comment.value.trim() || null }, outcome));
    section.append(
      h("div", { class: "action-row" }, field("Comment (optional)", comment), approve),
    );

    const editable = EDITABLE[p.kind] || [];
    if (editable.length) {
      const inputs = editable.map((e) => h("input", {
        type: "number", step: 1, inputmode: "numeric", id: `edit-${e.name}`, required: true,
        "data-field": `edits.${e.name}`, value: p.payload[e.name] ?? "",
      }));
      const go = h("button", { class: "btn btn-primary", type: "submit", id: "edit-approve" }, "Approve with this change");
      const form = h("form", { class: "action-form", id: "edit-form", hidden: true },
        editable.map((e, i) => field(e.label, inputs[i], "A whole number, not zero.")), go);
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const edits = {};
        for (const [i, e] of editable.entries()) {
          const n = Number(inputs[i].value);
          if (!Number.isInteger(n) || n === 0) {
            replaceChildren(errorBox, notice("error", `${e.label}: a whole number, not zero.`));
            inputs[i].focus();
            return;
          }
          edits[e.name] = n;
        }
        decide(go, "Approving…", url("approve"), { edits, comment: comment.value.trim() || null }, outcome);
      });
      section.append(toggle("Edit, then approve", "edit-toggle", form), form);
    }

    section.append(...reasonForm("Reject…", "reject", "Why is it rejected?", "Reject", (button, reason) =>
      decide(button, "Rejecting…", url("reject"), { reason }, () => "Rejected. Nothing was written to the POS.")));
  } else if (p.status === "applied") {
    section.append(...reasonForm("Revert…", "revert", "Why revert it?", "Revert on the POS", (button, reason) =>
      decide(button, "Reverting…", url("revert"), { reason }, () => "Reverted: the POS was asked to undo the change.")));
  }
  section.append(errorBox);
  return section;
}

function toggle(text, id, target) {
  const button = h("button", { class: "btn", type: "button", id, "aria-expanded": "false", "aria-controls": target.id }, text);
  button.addEventListener("click", () => {
    target.hidden = !target.hidden;
    button.setAttribute("aria-expanded", String(!target.hidden));
    if (!target.hidden) {
      const first = target.querySelector("input, textarea");
      if (first) first.focus();
    }
  });
  return button;
}

function reasonForm(openText, verb, label, submitText, onSubmit) {
  const reason = h("textarea", { id: `${verb}-reason`, rows: 2, maxlength: 1000, required: true, "data-field": "reason" });
  const go = h("button", { class: "btn btn-danger", type: "submit", id: `${verb}-submit` }, submitText);
  const form = h("form", { class: "action-form", id: `${verb}-form`, hidden: true }, field(label, reason), go);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = reason.value.trim();
    if (!text) {
      reason.focus();
      return;
    }
    onSubmit(go, text);
  });
  return [toggle(openText, `${verb}-toggle`, form), form];
}

function outcome(after) {
  if (after.status === "applied") {
    const ref = after.result && after.result.reference ? ` (POS reference ${after.result.reference})` : "";
    return `Approved and applied: the POS took the change${ref}.`;
  }
  if (after.status === "pending") {
    const left = after.required_approvals - after.approvals.length;
    return `Your approval is recorded; it needs ${left} more.`;
  }
  if (after.status === "approved") return "Approved. Writing it to the POS is being retried.";
  if (after.status === "failed") {
    const detail = after.result && after.result.detail ? `: ${after.result.detail}` : ".";
    return `Approved, but the POS refused the change${detail}`;
  }
  return `Now ${after.status}.`;
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

