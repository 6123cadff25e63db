// Proposals as more than one page shows them: what a purchase order orders and why (its lines,
// each with the justification the workflow gave, in words and as the facts behind them), and
// the decision controls — Approve (with a comment), Edit then approve, Reject (with a reason),
// Revert (applied ones) — for roles that may decide. Used by the Approvals page and the
// Replenishment page. The server checks every decision; its refusals show in place.

import { api, ApiError } from "./api.js";
import { busy, costHidden, errorNotice, facts, field, h, notice, replaceChildren } from "./dom.js";
import { exponent, formatCount, formatMediumDay, formatMoney, humanize } from "./format.js";

// What an approver may change before approving, per kind (governance.approvals.EDITABLE):
// named payload fields, or (purchase orders) each line's quantity as `lines.<sku>.quantity`.
const EDITABLE = { stock_adjustment: [{ name: "delta", label: "Change in units (delta)" }] };
const LINE_EDITS = new Set(["draft_purchase_order"]);

/** Whether `p` may be edited before it is approved. */
export function editable(p) {
  return Boolean(EDITABLE[p.kind]) || (LINE_EDITS.has(p.kind) && orderLinesOf(p).length > 0);
}

/** Who must approve: "1 approval", "2 approvals from different people, including a …". */
export function needsText(p) {
  const parts = [p.required_approvals > 1 ? `${p.required_approvals} approvals from different people` : "1 approval"];
  if (p.required_role) parts.push(`including a ${humanize(p.required_role).toLowerCase()} (or admin)`);
  return parts.join(", ");
}

/** What happened after an approval, in a sentence. */
export function outcome(after) {
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

// ---- purchase orders -----------------------------------------------------------------------

function orderLinesOf(p) {
  const lines = p.payload && p.payload.lines;
  return Array.isArray(lines) ? lines.filter((l) => l && typeof l === "object") : [];
}

/** "2.95" (a decimal string in `currency`) → formatted money; "—" when unknown. */
export function formatDecimal(text, currency) {
  if (text === null || text === undefined || text === "" || !currency) return "—";
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(String(text).trim());
  const exp = exponent(currency);
  if (!match || (match[3] || "").length > exp) return `${text} ${currency}`;
  const minor = Number(`${match[1]}${match[2]}${(match[3] || "").padEnd(exp, "0")}`);
  return formatMoney(minor, currency);
}

/** A demand figure as a buyer reads it: one decimal below 10, whole above ("3.5", "18"). */
export function formatUnits(x) {
  if (x === null || x === undefined || Number.isNaN(Number(x))) return "—";
  const n = Number(x);
  return Math.abs(n) < 10 ? String(Math.round(n * 10) / 10) : formatCount(Math.round(n));
}

export function formatPercent(fraction) {
  return fraction === null || fraction === undefined ? null : `${Math.round(fraction * 1000) / 10}%`;
}

/** Backtested accuracy in words: "WAPE 42%, RMSSE 0.81, 80% interval held 78% (4 windows)". */
export function accuracyText(accuracy) {
  if (!accuracy || typeof accuracy !== "object") return "Not backtested on this item (too little history)";
  const parts = [];
  if (accuracy.wape !== null && accuracy.wape !== undefined) parts.push(`WAPE ${formatPercent(accuracy.wape)}`);
  if (accuracy.rmsse !== null && accuracy.rmsse !== undefined) parts.push(`RMSSE ${Number(accuracy.rmsse).toFixed(2)}`);
  if (accuracy.coverage_80 !== null && accuracy.coverage_80 !== undefined) {
    parts.push(`80% interval held ${formatPercent(accuracy.coverage_80)} of actuals`);
  }
  if (accuracy.coverage_95 !== null && accuracy.coverage_95 !== undefined) {
    parts.push(`95% interval held ${formatPercent(accuracy.coverage_95)}`);
  }
  if (parts.length === 0) return "No backtest figures for this item";
  const windows = Number.isInteger(accuracy.windows) && accuracy.windows > 0
    ? ` (${accuracy.windows} backtest window${accuracy.windows === 1 ? "" : "s"})` : "";
  return parts.join(", ") + windows;
}

const RANGE = "\u2013";

function lineFacts(line) {
  const j = line.justification || {};
  const f = j.forecast || {};
  const pol = j.policy || {};
  const interval = Array.isArray(pol.interval_80) ? pol.interval_80
    : f.lo_80 !== undefined && f.lo_80 !== null ? [f.lo_80, f.hi_80] : null;
  const days = pol.protection_days ?? f.protection_days;
  const yes = (v) => (v === null || v === undefined ? null : v);
  return [
    h("h4", {}, "Forecast"),
    facts([
      ["Method", f.method ? `${f.method}${f.model ? ` (${f.model}${f.version ? ` ${f.version}` : ""})` : ""}` : null],
      ["Mean demand", f.daily_mean !== undefined && f.daily_mean !== null ? `${formatUnits(f.daily_mean)} units a day` : null],
      ["Over the protection period", days !== undefined && days !== null
        ? `${formatUnits(pol.protection_mean ?? f.protection_mean)} units in ${days} days`
          + (interval ? ` (80% range ${formatUnits(interval[0])}${RANGE}${formatUnits(interval[1])})` : "")
        : null],
      ["At the service level", pol.service_level !== undefined
        ? `${formatUnits(pol.protection_quantile ?? f.protection_quantile)} units (${formatPercent(pol.service_level)})` : null],
      ["Backtested accuracy", accuracyText(f.accuracy)],
    ], { class: "facts compact", "data-part": "forecast" }),
    h("h4", {}, "Stock and policy"),
    facts([
      ["On hand", yes(pol.on_hand)],
      ["On order", pol.on_order !== undefined
        ? `${pol.on_order}${pol.in_draft ? ` (${pol.in_draft} on the pending draft)` : ""}` : null],
      ["Committed", pol.committed ? pol.committed : null],
      ["Stock position", yes(pol.inventory_position)],
      ["Lead time", pol.lead_time_days !== undefined ? `${pol.lead_time_days} days` : null],
      ["Review period", pol.review_period_days !== undefined ? `${pol.review_period_days} day(s)` : null],
      ["Reorder point", yes(pol.reorder_point)],
      ["Order-up-to level", yes(pol.order_up_to)],
      ["Minimum order (MOQ)", pol.moq ? pol.moq : null],
      ["Case pack", pol.case_pack && pol.case_pack > 1 ? pol.case_pack : null],
      ["Maximum stock", yes(pol.max_stock)],
      ["Weeks of cover", pol.weeks_of_cover !== undefined && pol.weeks_of_cover !== null
        ? `${pol.weeks_of_cover} now${pol.weeks_of_cover_after !== null && pol.weeks_of_cover_after !== undefined ? `, ${pol.weeks_of_cover_after} with this order` : ""}`
        : null],
      ["Rule", j.rule ? humanize(j.rule) : null],
      ["Steps", Array.isArray(pol.steps) && pol.steps.length ? pol.steps.join(" → ") : null],
    ], { class: "facts compact", "data-part": "policy" }),
  ];
}

/**
 * The lines of a draft purchase order with their justifications: quantity, unit cost, line
 * total, the reason in brief (quantity, stock, rule), and on demand the whole reason in plain
 * words (with the forecast and its accuracy) and the facts behind it. `onForecast(line)` (when
 * given) adds a button per line that opens the item's forecast.
 */
export function orderLines(p, { onForecast = null } = {}) {
  const lines = orderLinesOf(p);
  const currency = p.payload.currency || (p.value && p.value.currency) || null;
  const costs = !p.costs_hidden; // the server leaves them out for a role without costs:read
  if (lines.length === 0) return h("p", { class: "muted" }, "This order has no lines.");
  return h("table", { class: "table compact order-lines" },
    h("caption", { class: "visually-hidden" }, "The order's lines and why each is ordered"),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Item"),
      h("th", { scope: "col", class: "num" }, "Quantity"),
      costs ? h("th", { scope: "col", class: "num" }, "Unit cost") : null,
      costs ? h("th", { scope: "col", class: "num" }, "Line total") : null)),
    lines.map((line) => {
      const j = line.justification || {};
      return h("tbody", { class: "order-line", dataset: { sku: line.sku } },
        h("tr", {},
          h("th", { scope: "row" }, line.name || line.sku, h("span", { class: "sub" }, `SKU ${line.sku}`)),
          h("td", { class: "num" }, h("strong", { class: "qty" }, formatCount(line.quantity)),
            line.already_in_draft ? h("span", { class: "sub" }, `${line.already_in_draft} already on the draft`) : null,
            line.edited_from != null
              ? h("span", { class: "sub edited-from" }, `edited from ${formatCount(line.edited_from)}: the reason below is for that`)
              : null,
            line.reorder_stopped
              ? h("span", { class: "sub reorder-stopped" },
                `Reordering stopped since this was drafted (${line.reorder_stopped.reason}): edit the line to 0 to drop it`)
              : null),
          costs ? h("td", { class: "num nowrap" }, formatDecimal(line.unit_cost, currency)) : null,
          costs ? h("td", { class: "num nowrap" }, formatDecimal(line.line_total, currency)) : null,
        ),
        h("tr", { class: "why-row" }, h("td", { colspan: costs ? 4 : 2 },
          h("p", { class: "why" }, j.summary || j.text || "No justification was given."),
          h("div", { class: "why-tools" },
            j.forecast || j.policy || (j.summary && j.text) ? h("details", { class: "more facts-more" },
              h("summary", {}, "The forecast and the facts behind it"),
              j.summary && j.text ? h("p", { class: "why-full" }, j.text) : null,
              j.forecast || j.policy ? h("div", { class: "line-facts" }, lineFacts(line)) : null) : null,
            onForecast ? h("button", {
              class: "btn btn-small", type: "button", "data-action": "forecast",
              "aria-label": `Forecast chart of ${line.name || line.sku}`,
              onclick: () => onForecast(line),
            }, "Forecast chart") : null,
          ),
        )),
      );
    }),
  );
}

/** The order's head facts: vendor, delivery, value, vendor minimum, held. */
export function orderFacts(p, attrs = {}) {
  const pay = p.payload || {};
  const vendor = pay.vendor || {};
  const minimum = pay.vendor_minimum || {};
  const currency = pay.currency || (p.value && p.value.currency);
  return facts([
    ["Vendor", vendor.name ? `${vendor.name}${vendor.email ? ` · ${vendor.email}` : ""}` : null],
    ["Expected", pay.expected_on
      ? `${formatMediumDay(pay.expected_on)}${pay.lead_time_days !== undefined ? ` (${pay.lead_time_days}-day lead time)` : ""}` : null],
    ["Value", p.costs_hidden ? costHidden()
      : p.value ? formatMoney(p.value.amount, p.value.currency) : formatDecimal(pay.value, currency)],
    ["Vendor minimum", minimum.min_order_value ? formatDecimal(minimum.min_order_value, currency)
      + (minimum.raised && minimum.raised.length ? ` (raised: ${minimum.raised.join(", ")})` : "") : null],
    ["New vendor", p.new_vendor ? "Yes: always needs a person" : null],
    ["Merged", pay.merged ? "Adds to the open draft for this vendor" : null],
  ], attrs);
}

// ---- deciding ------------------------------------------------------------------------------

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

function reasonForm(prefix, openText, verb, label, submitText, onSubmit) {
  const reason = h("textarea", { id: `${prefix}${verb}-reason`, rows: 2, maxlength: 1000, required: true, "data-field": "reason" });
  const go = h("button", { class: "btn btn-danger", type: "submit", id: `${prefix}${verb}-submit` }, submitText);
  const form = h("form", { class: "action-form", id: `${prefix}${verb}-form`, hidden: true }, field(label, reason), go);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = reason.value.trim();
    if (!text) {
      reason.focus();
      return;
    }
    onSubmit(go, text);
  });
  return [toggle(openText, `${prefix}${verb}-toggle`, form), form];
}

// The edit form of a kind with named fields: each a whole number, not zero.
function fieldEdits(prefix, p, showError) {
  const editable = EDITABLE[p.kind];
  const inputs = editable.map((e) => h("input", {
    type: "number", step: 1, inputmode: "numeric", id: `${prefix}edit-${e.name}`, required: true,
    "data-field": `edits.${e.name}`, value: p.payload[e.name] ?? "",
  }));
  const read = () => {
    const edits = {};
    for (const [i, e] of editable.entries()) {
      const n = Number(inputs[i].value);
      if (inputs[i].value.trim() === "" || !Number.isInteger(n) || n === 0) {
        showError(`${e.label}: a whole number, not zero.`, inputs[i]);
        return null;
      }
      edits[e.name] = n;
    }
    return edits;
  };
  return { controls: editable.map((e, i) => field(e.label, inputs[i], "A whole number, not zero.")), read };
}

// The edit form of a purchase order: one quantity per line (0 drops the line); only the lines
// changed are sent, as `lines.<sku>.quantity`.
function lineEdits(prefix, p, showError) {
  const lines = orderLinesOf(p);
  const inputs = lines.map((line) => h("input", {
    type: "number", step: 1, min: 0, inputmode: "numeric", required: true,
    id: `${prefix}edit-qty-${line.sku}`, "data-field": `edits.lines.${line.sku}.quantity`,
    "data-sku": line.sku, value: line.quantity,
  }));
  const read = () => {
    const edits = {};
    let kept = 0;
    for (const [i, line] of lines.entries()) {
      const n = Number(inputs[i].value);
      if (inputs[i].value.trim() === "" || !Number.isInteger(n) || n < 0) {
        showError(`Quantity of ${line.sku}: whole units, 0 or more.`, inputs[i]);
        return null;
      }
      if (n !== line.quantity) edits[`lines.${line.sku}.quantity`] = n;
      if (n > 0) kept += 1;
    }
    if (kept === 0) {
      showError("An order keeps at least one line: reject it instead.", inputs[0]);
      return null;
    }
    if (Object.keys(edits).length === 0) {
      showError("No quantity was changed: approve it as it is, or change a quantity.", inputs[0]);
      return null;
    }
    return edits;
  };
  const controls = h("div", { class: "qty-grid" }, lines.map((line, i) => field(
    `Quantity of ${line.name || line.sku} (${line.sku})`, inputs[i])));
  return { controls: [controls, h("p", { class: "field-hint" }, "Whole units; 0 drops the line.")], read };
}

/**
 * The decision controls of proposal `p` in a card, or null when nothing is left to decide.
 * `prefix` keeps element ids unique when several proposals share a page; `onDecided(after,
 * kind, text)` gets the proposal as the server left it and a sentence saying what happened.
 */
export function decisionPanel(ctx, p, { prefix = "", onDecided, title = "Decide", wide = true } = {}) {
  const section = h("section", {
    class: `card${wide ? " card-wide" : ""} actions`, id: `${prefix}actions`, "aria-labelledby": `${prefix}actions-title`,
  }, h("h2", { id: `${prefix}actions-title` }, title));
  const decidable = p.status === "pending" || p.status === "applied";
  if (!decidable) return null;
  if (!ctx.can("proposals:approve")) {
    section.appendChild(notice("info",
      `Your role (${humanize(ctx.me.role)}) can see this proposal but not decide it.`));
    return section;
  }
  const errorBox = h("div", { id: `${prefix}action-error`, class: "action-error" });
  const showError = (text, input) => {
    replaceChildren(errorBox, notice("error", text));
    if (input) input.focus();
  };
  const decide = async (button, busyText, path, body, done) => {
    replaceChildren(errorBox);
    try {
      const after = await busy(button, busyText, () => api(path, { method: "POST", body }));
      ctx.refreshCounts();
      onDecided(after, after.status === "failed" ? "error" : "ok", done(after));
    } catch (err) {
      if (err.name === "AbortError") return;
      replaceChildren(errorBox, errorNotice(err));
      const input = err instanceof ApiError && err.field
        ? section.querySelector(`[data-field="${CSS.escape(err.field)}"]`) : null;
      if (input) input.focus();
    }
  };
  const url = (verb) => `/v1/proposals/${encodeURIComponent(p.id)}/${verb}`;

  // the approval rules may ask for a regional manager: others are told so, and may still reject
  const needsSenior = p.required_role === "regional_manager"
    && !["regional_manager", "admin"].includes(ctx.me.role);
  if (p.status === "pending" && needsSenior) {
    section.appendChild(notice("info",
      "This proposal needs a regional manager's approval (the approval rules): "
      + `your role (${humanize(ctx.me.role)}) may reject it, not approve it.`));
    section.append(...reasonForm(prefix, "Reject…", "reject", "Why is it rejected?", "Reject", (button, reason) =>
      decide(button, "Rejecting…", url("reject"), { reason }, () => "Rejected. Nothing was written to the POS.")));
  } else if (p.status === "pending") {
    const comment = h("input", { type: "text", id: `${prefix}approve-comment`, maxlength: 500, "data-field": "comment" });
    const approve = h("button", { class: "btn btn-primary", type: "button", id: `${prefix}approve` }, "Approve");
    approve.addEventListener("click", () => decide(approve, "Approving…", url("approve"),
      { comment: comment.value.trim() || null }, outcome));
    section.append(h("div", { class: "action-row" }, field("Comment (optional)", comment), approve));

    if (editable(p)) {
      const edit = EDITABLE[p.kind] ? fieldEdits(prefix, p, showError) : lineEdits(prefix, p, showError);
      const go = h("button", { class: "btn btn-primary", type: "submit", id: `${prefix}edit-approve` }, "Approve with this change");
      const form = h("form", { class: "action-form", id: `${prefix}edit-form`, hidden: true }, edit.controls, go);
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        replaceChildren(errorBox);
        const edits = edit.read();
        if (edits) decide(go, "Approving…", url("approve"), { edits, comment: comment.value.trim() || null }, outcome);
      });
      section.append(toggle("Edit, then approve", `${prefix}edit-toggle`, form), form);
    }

    section.append(...reasonForm(prefix, "Reject…", "reject", "Why is it rejected?", "Reject", (button, reason) =>
      decide(button, "Rejecting…", url("reject"), { reason }, () => "Rejected. Nothing was written to the POS.")));
  } else if (p.status === "applied") {
    section.append(...reasonForm(prefix, "Revert…", "revert", "Why revert it?", "Revert on the POS", (button, reason) =>
      decide(button, "Reverting…", url("revert"), { reason }, () => "Reverted: the POS was asked to undo the change.")));
  }
  section.append(errorBox);
  return section;
}
