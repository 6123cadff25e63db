// Risk: the loss-prevention review queue, one case in full, and exception reports per store.
//
// * Queue (#/risk?state=&store=&owner=mine&overdue=1&employee=): flagged till events per
//   store, open cases by default, most urgent first — severity, SLA due (overdue highlighted),
//   score, decision, reason chips, the plain-language summary and the employee.
// * Case (#/risk/case/<id>): the sale, refund or till event that was scored; the evidence of
//   each reason in plain words; the employee's recent scored events at the store (a chart of
//   their scores and a table); "In plain words"; the manager approval of a require_manager case
//   (status and a link to it in Approvals); and, for roles with risk:decide, Assign to me,
//   Start review, Release, and Confirm / Dismiss with a note. A decision is final: the server
//   audits it (with the case's reasons, score, model and version) and stores it as a label the
//   scorer learns from.
// * Reports (#/risk/reports?store=&days=): cases by employee (and how they were decided), by
//   reason and per day (uPlot), with the events scored, over the last N store-local days.
//
// The server decides every request (risk:read to look, risk:decide to work a case; a case of
// another store is a 404); refusals show where they happen.

import { api, ApiError, query } from "../api.js";
import { busy, empty, errorNotice, facts, field, h, notice, pill, replaceChildren, select, setCardState } from "../dom.js";
import { explainer } from "../explain.js";
import {
  dayToSeconds, formatCount, formatDateTime, formatDay, formatMoney, formatShortDay, humanize, secondsToDay,
  statusKind,
} from "../format.js";

const DAY = 86400;
const PAGE_SIZE = 100;
const OPEN = ["new", "in_review"];
const DECIDED = ["confirmed", "dismissed"];
const PERIODS = [["7", "Last 7 days"], ["30", "Last 30 days"], ["90", "Last 90 days"], ["365", "Last year"], ["all", "All time"]];
const COLORS = { allow: "#94a3b8", flagged: "#b42318", current: "#0f766e", cases: "#0f766e" };

// Reason codes (tillwise.workflows.risk.signals) in a few plain words each.
const REASONS = {
  refund_without_receipt: "Refund without receipt",
  refund_to_other_tender: "Refund to another tender",
  quick_refund_same_employee: "Quick refund, same employee",
  post_void: "Post-void",
  void_after_tender: "Void after tender",
  no_sale_drawer: "No-sale drawer open",
  discount_rate: "Discounts",
  price_override: "Price override",
  keyed_card: "Keyed card",
  split_tender: "Split tender",
  card_testing: "Card testing",
  gift_card_burst: "Gift-card burst",
  high_value_return: "High-value return",
  serial_returner: "Serial returner",
  odd_hour: "Odd hour",
  anomaly: "Unusual (anomaly model)",
  learned: "Like confirmed losses",
  manager_threshold: "Needs a manager",
};
const KINDS = {
  sale: "Sale", refund: "Refund", void: "Void", post_void: "Post-void", no_sale: "No-sale",
  price_override: "Price override", cart: "Cart",
};
const STATES = { new: "New", in_review: "In review", confirmed: "Confirmed loss", dismissed: "Dismissed" };
const STATE_KIND = { new: "warn", in_review: "info", confirmed: "bad", dismissed: "ok" };
const DECISIONS = { allow: "Allow", review: "Review", require_manager: "Manager approval" };
const DECISION_KIND = { allow: "ok", review: "warn", require_manager: "bad" };
const SEVERITY_KIND = { high: "bad", medium: "warn", low: "" };

// Evidence, in plain words: [label, how to show the value]. Money is in minor units.
const EVIDENCE = {
  amount: ["Amount", "money"],
  limit: ["A manager must approve from", "money"],
  discount: ["Discount", "money"],
  receipt: ["Receipt", "receipt"],
  receipt_id: ["Receipt named", "text"],
  sale_id: ["The sale", "text"],
  today: ["Such refunds by this employee today", "count"],
  employee_rate: ["This employee's rate", "percent"],
  peer_median_rate: ["Typical rate of their peers", "percent"],
  z: ["How far from their peers (robust z-score)", "decimal"],
  peers: ["Peers compared", "count"],
  refund_tenders: ["Refunded to", "list"],
  minutes_after_sale: ["Minutes after the sale", "decimal"],
  refund_quantile: ["Larger than this share of the store's refunds", "percent"],
  customer_returns: ["The customer's recent returns", "decimal"],
  returned_share_of_value: ["Share of what they bought that came back", "percent"],
  store_p90_returns: ["Returns of the store's top 10% returners", "decimal"],
  amount_quantile: ["Larger than this share of the store's sales", "percent"],
  discount_share: ["Discount as a share of the sale", "percent"],
  overrides: ["Prices changed by hand", "count"],
  price_cut: ["Price cut", "percent"],
  tenders: ["Ways it was paid", "count"],
  cards: ["Different cards", "count"],
  attempts: ["Card attempts in the window", "count"],
  card_uses: ["Uses of the same card", "count"],
  distinct_cards: ["Different cards", "count"],
  keyed_share: ["Share of this employee's cards keyed in", "percent"],
  store_p995_attempts: ["The store's usual most (99.5%)", "decimal"],
  store_p995_card_uses: ["The store's usual most (99.5%)", "decimal"],
  gift_purchases_last_hour: ["Gift-card purchases in the last hour", "count"],
  no_sales_today: ["No-sales by this employee today", "count"],
  local_hour: ["Store-local hour", "hour"],
  local_weekday: ["Store-local weekday", "weekday"],
  activity_vs_average_hour: ["Activity at this hour vs an average hour", "percent"],
  quantile: ["Rarer than this share of events", "percent"],
  probability: ["Chance it is a loss (learned)", "percent"],
  labels: ["Reviewers' decisions learned from", "count"],
  blend: ["Weight of the learned model", "decimal"],
  model_version: ["Model version", "text"],
};
const RECEIPTS = {
  none: "none given",
  unknown: "a sale Tillwise never saw",
  exceeds: "more than what is left of the sale",
  ok: "matches the sale",
};
const WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

let lastQueueHash = "#/risk";

const shortTime = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
function formatShortTime(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : shortTime.format(d);
}

// ---- small pieces ----------------------------------------------------------------------------

const reasonName = (code) => REASONS[code] || humanize(code);
const kindName = (kind) => KINDS[kind] || humanize(kind);
const stateName = (state) => STATES[state] || humanize(state);
const casePath = (id) => `#/risk/case/${encodeURIComponent(id)}`;
const score = (x) => (x === null || x === undefined ? "—" : Number(x).toFixed(2));
const isOpen = (c) => OPEN.includes(c.state);

function chip(code) {
  return h("span", { class: "chip", dataset: { code }, title: code }, reasonName(code));
}

function chips(codes) {
  const list = [...new Set(codes.filter(Boolean))];
  return list.length ? h("span", { class: "chips" }, list.map(chip)) : h("span", { class: "muted small" }, "no reason codes");
}

function statePill(state) {
  return pill(stateName(state), STATE_KIND[state] || "");
}

function decisionPill(decision) {
  return pill(DECISIONS[decision] || humanize(decision), DECISION_KIND[decision] || "");
}

function severityPill(severity) {
  return pill(`${humanize(severity)} severity`, SEVERITY_KIND[severity] || "");
}

/** "in 3 h", "2 h ago": the distance from now to an ISO time. */
function fromNow(iso) {
  const ms = new Date(iso).getTime() - Date.now();
  if (Number.isNaN(ms)) return "";
  const minutes = Math.round(Math.abs(ms) / 60000);
  const text = minutes < 60 ? `${minutes} min` : minutes < 48 * 60 ? `${Math.round(minutes / 60)} h` : `${Math.floor(minutes / 1440)} days`;
  return ms >= 0 ? `in ${text}` : `${text} ago`;
}

/** The SLA of a case: due when, overdue highlighted; decided cases have none left. */
function slaText(c) {
  if (!isOpen(c)) return h("span", { class: "sla muted" }, c.decided_at ? `Decided ${formatShortTime(c.decided_at)}` : "Decided");
  return h("span", { class: `sla${c.overdue ? " overdue" : ""}`, dataset: { overdue: String(Boolean(c.overdue)) } },
    c.overdue ? pill("Overdue", "bad") : null,
    ` Due ${formatShortTime(c.sla_due)} · ${fromNow(c.sla_due)}`);
}

function me(ctx) {
  return ctx.me.name || ctx.me.id;
}

function tabs(current) {
  const link = (path, text, name) => h("a", { href: path, "aria-current": current === name ? "page" : null }, text);
  return h("nav", { class: "tabs", "aria-label": "Risk sections" },
    link(lastQueueHash, "Queue", "queue"), link("#/risk/reports", "Reports", "reports"));
}

// ---- the queue -------------------------------------------------------------------------------

function queueFilters(q) {
  return {
    state: q.get("state") || "open",
    store: q.get("store") || "",
    owner: q.get("owner") || "",
    overdue: q.get("overdue") === "1",
    employee: q.get("employee") || "",
  };
}

function queueHash(f) {
  return `#/risk${query({
    state: f.state === "open" ? "" : f.state,
    store: f.store,
    owner: f.owner,
    overdue: f.overdue ? "1" : "",
    employee: f.employee,
  })}`;
}

/** Open cases by urgency (overdue, then due soonest); decided ones newest first, after them. */
function byUrgency(a, b) {
  const ao = isOpen(a), bo = isOpen(b);
  if (ao !== bo) return ao ? -1 : 1;
  if (ao) {
    if (a.overdue !== b.overdue) return a.overdue ? -1 : 1;
    return a.sla_due < b.sla_due ? -1 : a.sla_due > b.sla_due ? 1 : 0;
  }
  const ad = a.decided_at || a.created_at, bd = b.decided_at || b.created_at;
  return ad < bd ? 1 : ad > bd ? -1 : 0;
}

async function renderQueue(root, ctx) {
  const f = queueFilters(ctx.query);
  lastQueueHash = window.location.hash || "#/risk";
  const stores = await ctx.stores().catch(() => []);

  const change = () => ctx.navigate(queueHash({
    state: stateSel.value, store: storeSel.value, owner: ownerSel.value, overdue: overdueBox.checked, employee: f.employee,
  }));
  const stateSel = select([
    ["open", "Open"], ...["new", "in_review", "confirmed", "dismissed"].map((s) => [s, stateName(s)]),
    ["any", "Any state"],
  ], f.state, { id: "filter-state", onchange: change });
  const storeSel = select([["", "All my stores"], ...stores.map((s) => [s.store, s.name])], f.store,
    { id: "filter-store", onchange: change });
  const ownerSel = select([["", "Anyone"], ["mine", "Mine"]], f.owner, { id: "filter-owner", onchange: change });
  const overdueBox = h("input", { type: "checkbox", id: "filter-overdue", checked: f.overdue, onchange: change });

  const list = h("ul", { class: "case-list", id: "case-list", "aria-live": "polite" });
  const more = h("button", { class: "btn", type: "button", id: "more", hidden: true }, "Show more");
  const status = h("div", { id: "queue-state" });
  const counts = h("p", { class: "muted small", id: "queue-counts" }, "Loading the queue…");
  replaceChildren(root,
    h("div", { class: "page-head" },
      h("div", {}, h("h1", {}, "Risk"), counts),
      h("form", { class: "filters risk-filters", role: "search", "aria-label": "Filter cases", onsubmit: (e) => e.preventDefault() },
        field("State", stateSel), field("Store", storeSel), field("Owner", ownerSel),
        h("label", { class: "check filter-check" }, overdueBox, "Overdue only")),
    ),
    tabs("queue"),
    f.employee ? notice("info", `Cases of employee ${f.employee}. `,
      h("a", { href: queueHash({ ...f, employee: "" }), id: "clear-employee" }, "Show every employee"), ".") : null,
    status, list, h("div", { class: "more-row" }, more),
  );

  // "Open" is two states: one cursor per state asked for.
  const sources = (f.state === "open" ? OPEN : f.state === "any" ? [""] : [f.state]).map((state) => ({ state, before: null, done: false }));
  const loaded = [];
  const load = async () => {
    const pages = await Promise.all(sources.filter((s) => !s.done).map(async (s) => {
      const body = await api(`/v1/risk/cases${query({
        state: s.state, store: f.store, owner: f.owner === "mine" ? me(ctx) : "", employee_id: f.employee,
        limit: PAGE_SIZE, before: s.before,
      })}`, { signal: ctx.signal });
      s.before = body.next;
      s.done = !body.next;
      return body.items;
    }));
    for (const items of pages) loaded.push(...items);
    loaded.sort(byUrgency);
    const shown = f.overdue ? loaded.filter((c) => c.overdue) : loaded;
    replaceChildren(list, shown.map((c) => caseItem(c, ctx)));
    more.hidden = sources.every((s) => s.done);
    const open = loaded.filter(isOpen);
    const overdue = open.filter((c) => c.overdue).length;
    counts.textContent = `${formatCount(loaded.length)} case${loaded.length === 1 ? "" : "s"}${more.hidden ? "" : " so far"}`
      + (open.length ? ` · ${formatCount(open.length)} open · ${formatCount(overdue)} overdue` : "");
    if (shown.length === 0) {
      replaceChildren(status, f.state === "open" && !f.overdue && !f.owner && !f.employee
        ? empty("Nothing to review", "Flagged sales, refunds, voids, no-sales and price overrides land here as the till's events are scored.")
        : empty("No cases match these filters"));
    } else replaceChildren(status);
  };
  more.addEventListener("click", () => busy(more, "Loading…", () => load().catch((err) => {
    status.appendChild(errorNotice(err));
  })));
  try {
    await load();
  } catch (err) {
    if (err.name === "AbortError") return;
    counts.textContent = "";
    replaceChildren(status, errorNotice(err, "The queue could not be loaded"));
  }
}

function caseItem(c, ctx) {
  const codes = (c.reasons || []).map((r) => r.code);
  return h("li", {
    class: `case sev-${c.severity}${c.overdue ? " is-overdue" : ""}`,
    dataset: { id: c.id, state: c.state, severity: c.severity, overdue: String(Boolean(c.overdue)), employee: c.employee_id || "" },
  },
  h("a", { href: casePath(c.id), class: "case-link" },
    h("span", { class: "case-main" },
      h("span", { class: "case-title" },
        h("strong", {}, `${kindName(c.kind)} ${formatMoney(c.amount, c.currency)}`),
        h("span", { class: "case-employee" }, c.employee_id ? ` · employee ${c.employee_id}` : " · no employee"),
        c.register_id ? h("span", { class: "muted" }, ` · ${c.register_id}`) : null),
      chips(codes),
      h("span", { class: "case-summary" }, c.summary),
      h("span", { class: "muted small" },
        `${ctx.storeName(c.store)} · ${formatDateTime(c.occurred_at)}`,
        c.owner ? ` · owner ${c.owner}` : " · unassigned"),
    ),
    h("span", { class: "case-side" },
      h("span", { class: "case-score", title: "Risk score (0 to 1)" }, h("span", { class: "sub" }, "score"), score(c.score)),
      h("span", { class: "case-pills" },
        severityPill(c.severity),
        decisionPill(c.decision),
        h("span", { class: "case-state", dataset: { state: c.state } }, statePill(c.state))),
      slaText(c),
    ),
  ));
}

// ---- one case --------------------------------------------------------------------------------

async function renderCase(root, ctx, id) {
  const back = h("a", { class: "back", href: lastQueueHash }, "← The queue");
  replaceChildren(root, back, h("p", { class: "muted" }, "Loading…"));
  let c;
  try {
    [c] = await Promise.all([
      api(`/v1/risk/cases/${encodeURIComponent(id)}`, { signal: ctx.signal }),
      ctx.people(),
      ctx.stores().catch(() => []),
    ]);
  } catch (err) {
    if (err.name === "AbortError") return undefined;
    replaceChildren(root, back, h("h1", {}, "Case"),
      errorNotice(err, err instanceof ApiError && err.status === 404 ? "" : "The case could not be loaded"));
    return undefined;
  }
  const view = new CaseView(root, ctx, back);
  view.draw(c, null);
  return () => view.stop();
}

class CaseView {
  constructor(root, ctx, back) {
    this.root = root;
    this.ctx = ctx;
    this.back = back;
    this.chart = null;
    this.observer = null;
  }

  stop() {
    if (this.observer) this.observer.disconnect();
    this.observer = null;
    if (this.chart) this.chart.destroy();
    this.chart = null;
  }

  async reload(message) {
    const c = await api(`/v1/risk/cases/${encodeURIComponent(this.c.id)}`, { signal: this.ctx.signal });
    this.draw(c, message);
  }

  draw(c, message) {
    this.stop();
    this.c = c;
    const ctx = this.ctx;
    const title = `${kindName(c.kind)} of ${formatMoney(c.amount, c.currency)} by ${c.employee_id ? `employee ${c.employee_id}` : "an unknown employee"}`;
    document.title = `${title} · Tillwise`;
    replaceChildren(this.root,
      this.back,
      h("div", { class: "detail-head" },
        h("div", {},
          h("h1", { id: "case-title" }, title),
          h("p", { class: "muted small case-meta" },
            `${ctx.storeName(c.store)} · ${formatDateTime(c.occurred_at)}`, c.register_id ? ` · register ${c.register_id}` : "")),
        h("span", { class: "case-pills" },
          severityPill(c.severity),
          c.overdue ? pill("Overdue", "bad") : null,
          h("span", { id: "case-state", dataset: { state: c.state } }, statePill(c.state))),
      ),
      message,
      h("div", { class: "detail-grid" },
        h("div", { class: "stack case-left" },
          this.whyCard(c),
          this.recordCard(c)),
        h("div", { class: "stack case-right" },
          this.factsCard(c),
          ctx.can("risk:decide") && isOpen(c) ? this.actionsCard(c) : null,
          c.decision === "require_manager" || c.approval ? this.approvalCard(c) : null),
        this.patternCard(c),
      ),
    );
    this.drawPattern(c);
  }

  // -- why it was flagged --------------------------------------------------------------------

  whyCard(c) {
    return h("section", { class: "card", id: "case-why", "aria-labelledby": "why-title" },
      h("h2", { id: "why-title" }, "Why it was flagged"),
      h("p", { class: "explanation", id: "case-summary" }, c.summary),
      explainer(`/v1/risk/cases/${encodeURIComponent(c.id)}/explain`, { fallback: "summary" }),
      h("h3", { class: "section-title" }, "The evidence"),
      (c.reasons || []).length
        ? h("ul", { class: "reasons", id: "case-reasons" }, c.reasons.map((r) => this.reasonItem(r, c)))
        : h("p", { class: "muted" }, "No reason codes were recorded."),
    );
  }

  reasonItem(r, c) {
    const pairs = Object.entries(r.evidence || {})
      .map(([key, value]) => evidencePair(r.code, key, value, c.currency))
      .filter(Boolean);
    const weight = Number(r.weight);
    return h("li", { class: "reason", dataset: { code: r.code } },
      h("div", { class: "reason-head" },
        chip(r.code),
        h("span", { class: "muted small" }, weight > 0
          ? `weight ${weight.toFixed(2)}` : r.code === "manager_threshold" ? "a rule: a manager decides" : "no weight")),
      h("p", { class: "reason-text" }, sentence(r.text)),
      pairs.length ? facts(pairs, { class: "facts compact evidence" }) : null,
    );
  }

  // -- the event that was scored ------------------------------------------------------------

  recordCard(c) {
    const t = c.transaction;
    const heading = `The ${kindName(c.kind).toLowerCase()}`;
    const body = [];
    if (!t) {
      body.push(h("p", { class: "muted" }, "The POS record is not stored (the event carried no record id); what was scored:"),
        facts([
          ["Event", c.event_id],
          ["When", formatDateTime(c.occurred_at)],
          ["Employee", c.employee_id],
          ["Register", c.register_id],
          ["Amount", formatMoney(c.amount, c.currency)],
        ], { id: "record-facts" }));
    } else {
      const currency = t.currency || (t.total && t.total.currency) || c.currency;
      const money = (m) => (m && Number.isSafeInteger(m.amount) ? formatMoney(m.amount, m.currency || currency) : null);
      const isTill = t.kind === "till_event";
      body.push(facts([
        ["Reference", t.source ? t.source.external_id : c.event_id],
        ["What", isTill ? humanize(t.event) : t.status === "voided" ? `Voided sale${t.voided_after_tender ? " (after payment was taken)" : ""}` : kindName(c.kind)],
        ["When", formatDateTime(t.occurred_at)],
        ["Voided", t.voided_at ? formatDateTime(t.voided_at) : null],
        ["Employee", t.employee_external_id || "not given"],
        ["Register", t.register_external_id || "not given"],
        ["Customer", t.customer_external_id || (isTill ? null : "not given")],
        ["Receipt (sale refunded)", t.kind === "refund" ? t.transaction_external_id || "none given" : null],
        ["Sale", isTill ? t.transaction_external_id : null],
        ["SKU", isTill ? t.sku : null],
        ["Price", isTill && t.original_price && t.new_price ? `${money(t.original_price)} → ${money(t.new_price)}` : null],
        ["Reason given", t.reason],
        ["Discounts", (t.discounts || []).length ? (t.discounts || []).map((d) => `${d.name || "discount"} ${money(d.amount)}`).join(", ") : null],
        ["Total", money(t.total)],
      ], { id: "record-facts" }));
      const lines = t.lines || [];
      if (lines.length) {
        body.push(h("div", { class: "scroll-x" }, h("table", { class: "table compact", id: "record-lines" },
          h("caption", { class: "visually-hidden" }, "Lines"),
          h("thead", {}, h("tr", {},
            h("th", { scope: "col" }, "Item"),
            h("th", { scope: "col", class: "num" }, "Qty"),
            h("th", { scope: "col", class: "num" }, t.kind === "refund" ? "Refunded" : "Unit price"))),
          h("tbody", {}, lines.map((l) => h("tr", {},
            h("th", { scope: "row" }, l.name || l.sku || "—", l.name && l.sku ? h("span", { class: "sub" }, `SKU ${l.sku}`) : null),
            h("td", { class: "num" }, String(l.quantity)),
            h("td", { class: "num" }, t.kind === "refund" ? money(l.amount) : money(l.unit_price),
              l.original_unit_price ? h("span", { class: "sub" }, `was ${money(l.original_unit_price)}`) : null)))))));
      }
      const tenders = t.tenders || [];
      if (tenders.length) {
        body.push(h("h3", { class: "section-title" }, t.kind === "refund" ? "Given back as" : "Paid with"),
          h("div", { class: "scroll-x" }, h("table", { class: "table compact", id: "record-tenders" },
            h("caption", { class: "visually-hidden" }, "Tenders"),
            h("thead", {}, h("tr", {},
              h("th", { scope: "col" }, "Tender"),
              h("th", { scope: "col" }, "Card"),
              h("th", { scope: "col" }, "Entry"),
              h("th", { scope: "col", class: "num" }, "Amount"))),
            h("tbody", {}, tenders.map((x) => h("tr", {},
              h("th", { scope: "row" }, humanize(x.type)),
              h("td", {}, x.card_last4 ? `•••• ${x.card_last4}` : x.card_fingerprint ? "fingerprint only" : "—"),
              h("td", {}, x.entry_method ? humanize(x.entry_method) : "—"),
              h("td", { class: "num" }, money(x.amount))))))));
      }
    }
    return h("section", { class: "card", id: "case-record", "aria-labelledby": "record-title" },
      h("h2", { id: "record-title" }, heading), body);
  }

  // -- the case's facts, the actions, the manager approval ---------------------------------

  factsCard(c) {
    const decided = DECIDED.includes(c.state);
    return h("section", { class: "card", "aria-labelledby": "case-facts-title" },
      h("h2", { id: "case-facts-title" }, "The case"),
      facts([
        ["State", stateName(c.state)],
        ["Owner", c.owner || "unassigned"],
        ["SLA", slaText(c)],
        ["Risk score", `${score(c.score)} (0 to 1)`],
        ["Decision", DECISIONS[c.decision] || c.decision],
        ["Scored by", `${c.model} ${c.version}`],
        ["Opened", formatDateTime(c.created_at)],
        ["Decided by", decided && c.decided_by ? this.ctx.actorName(c.decided_by) : null],
        ["Decided", decided && c.decided_at ? formatDateTime(c.decided_at) : null],
        ["Note", c.note],
        ["Label", decided ? (c.state === "confirmed" ? "a loss (the scorer learns from it)" : "not a loss (the scorer learns from it)") : null],
      ], { id: "case-facts" }),
      h("p", { class: "small" }, h("a", {
        href: `#/risk${query({ employee: c.employee_id || "", state: "any" })}`, id: "employee-cases", hidden: !c.employee_id,
      }, `Every case of employee ${c.employee_id}`)),
    );
  }

  actionsCard(c) {
    const ctx = this.ctx;
    const errorBox = h("div", { class: "action-error", id: "case-error" });
    const mine = c.owner === me(ctx);
    const run = (button, text, action, done) => async () => {
      replaceChildren(errorBox);
      try {
        await busy(button, text, action);
      } catch (err) {
        if (err.name === "AbortError") return;
        replaceChildren(errorBox, errorNotice(err));
        return;
      }
      await this.reload(notice("ok", done)).catch((err) => replaceChildren(errorBox, errorNotice(err)));
    };
    const post = (path, body) => api(`/v1/risk/cases/${encodeURIComponent(c.id)}/${path}`, { method: "POST", body });

    const buttons = [];
    if (!mine) {
      const assign = h("button", { class: "btn", type: "button", id: "assign-me" }, "Assign to me");
      assign.addEventListener("click", run(assign, "Assigning…", () => post("assign", { owner: me(ctx) }),
        "The case is yours."));
      buttons.push(assign);
    }
    if (c.state === "new") {
      const start = h("button", { class: "btn btn-primary", type: "button", id: "start-review" }, "Start review");
      start.addEventListener("click", run(start, "Starting…", () => post("state", { state: "in_review" }),
        c.owner ? "Review started." : "Review started; the case is yours."));
      buttons.unshift(start);
    } else {
      const release = h("button", { class: "btn", type: "button", id: "release" }, "Release");
      release.addEventListener("click", run(release, "Releasing…", () => post("state", { state: "new" }),
        "Released: the case is back in the queue as new."));
      buttons.push(release);
    }

    let decide = null;
    if (c.state === "in_review") {
      const note = h("textarea", { id: "decision-note", rows: 3, maxlength: 2000, placeholder: "What you found: camera, receipt, the employee's account…" });
      const confirm = h("button", { class: "btn btn-danger", type: "button", id: "confirm" }, "Confirm loss");
      const dismiss = h("button", { class: "btn", type: "button", id: "dismiss" }, "Dismiss");
      const decideWith = (state, button, text, done) => run(button, text,
        () => post("state", { state, note: note.value.trim() || null }), done);
      confirm.addEventListener("click", decideWith("confirmed", confirm, "Confirming…",
        "Confirmed as a loss. The decision is in the audit log and stored as a label the scorer learns from."));
      dismiss.addEventListener("click", decideWith("dismissed", dismiss, "Dismissing…",
        "Dismissed: not a loss. The decision is in the audit log and stored as a label the scorer learns from."));
      decide = h("form", { class: "action-form", id: "decide", onsubmit: (e) => e.preventDefault() },
        field("Note", note, "Kept with the decision in the audit log."),
        h("div", { class: "button-row" }, confirm, dismiss));
    }
    return h("section", { class: "card actions", id: "case-actions", "aria-labelledby": "actions-title" },
      h("h2", { id: "actions-title" }, "Work the case"),
      h("p", { class: "muted small" }, c.state === "new"
        ? "Start the review to confirm or dismiss it. A decision is final."
        : "Confirm it as a loss or dismiss it, with a note. A decision is final."),
      h("div", { class: "button-row" }, buttons),
      decide,
      errorBox,
    );
  }

  approvalCard(c) {
    const a = c.approval;
    return h("section", { class: "card", id: "case-approval", "aria-labelledby": "approval-title" },
      h("h2", { id: "approval-title" }, "Manager approval"),
      a ? [
        h("p", {}, h("span", { id: "approval-status", dataset: { status: a.status } }, pill(humanize(a.status), statusKind(a.status))),
          ` ${approvalText(a)}`),
        this.ctx.can("proposals:read")
          ? h("p", {}, h("a", { href: `#/approvals/${encodeURIComponent(a.id)}`, id: "approval-link" }, "Open it in Approvals"))
          : null,
      ] : h("p", { class: "muted" }, "No manager approval was asked for (the risk workflow is off for this store)."),
    );
  }

  // -- the employee's recent pattern -----------------------------------------------------------

  patternCard(c) {
    const recent = c.employee_recent || [];
    const flagged = recent.filter((e) => e.decision !== "allow").length;
    const mean = recent.length ? recent.reduce((s, e) => s + Number(e.score || 0), 0) / recent.length : 0;
    const who = c.employee_id ? `Employee ${c.employee_id}` : "The employee";
    return h("section", { class: "card card-wide", id: "case-pattern", "aria-labelledby": "pattern-title" },
      h("div", { class: "card-head" },
        h("h2", { id: "pattern-title" }, `${who}'s recent pattern`),
        h("span", { class: "muted small", id: "pattern-summary" }, recent.length
          ? `Latest ${formatCount(recent.length)} scored event${recent.length === 1 ? "" : "s"} at this store · ${formatCount(flagged)} flagged · mean score ${mean.toFixed(2)}`
          : "")),
      h("div", { class: "card-state", "data-for": "pattern" }),
      recent.length ? [
        h("ul", { class: "chart-key", "aria-label": "Legend" },
          key("allow", "Allowed"), key("flagged", "Flagged (review or manager)"), key("current", "This case")),
        h("div", { class: "chart pattern-chart", id: "pattern-chart", role: "img",
          "aria-label": `Risk scores of ${who.toLowerCase()}'s latest ${recent.length} scored events, over time (the table below has them)` }),
        h("div", { class: "scroll-x" }, h("table", { class: "table compact", id: "pattern-table" },
          h("caption", { class: "visually-hidden" }, `${who}'s latest scored events, newest first`),
          h("thead", {}, h("tr", {},
            h("th", { scope: "col" }, "When"),
            h("th", { scope: "col" }, "Event"),
            h("th", { scope: "col", class: "num" }, "Amount"),
            h("th", { scope: "col", class: "num" }, "Score"),
            h("th", { scope: "col" }, "Decision"),
            h("th", { scope: "col" }, "Reasons"))),
          h("tbody", {}, recent.map((e) => h("tr", {
            class: e.event_id === c.event_id && e.kind === c.kind ? "current" : null,
            dataset: { event: e.event_id, decision: e.decision },
          },
            h("td", { class: "nowrap" }, formatDateTime(e.occurred_at)),
            h("th", { scope: "row" }, kindName(e.kind), h("span", { class: "sub" }, e.event_id)),
            h("td", { class: "num" }, formatMoney(e.amount, e.currency)),
            h("td", { class: "num" }, score(e.score)),
            h("td", {}, decisionPill(e.decision)),
            h("td", {}, (e.reasons || []).length ? chips(e.reasons) : h("span", { class: "muted" }, "—"))))))),
      ] : h("p", { class: "muted" }, c.employee_id
        ? "No scored events of this employee at this store."
        : "The event named no employee, so there is no pattern to show."),
    );
  }

  drawPattern(c) {
    const recent = [...(c.employee_recent || [])].sort((a, b) => (a.occurred_at < b.occurred_at ? -1 : 1));
    const el = this.root.querySelector("#pattern-chart");
    if (!el || recent.length === 0) return;
    if (typeof window.uPlot !== "function") {
      setCardState(this.root, "pattern", "error", "The chart library did not load; the table below has the figures.");
      return;
    }
    const uPlot = window.uPlot;
    const xs = recent.map((e) => Date.parse(e.occurred_at) / 1000);
    const isCurrent = (e) => e.event_id === c.event_id && e.kind === c.kind;
    const allow = recent.map((e) => (e.decision === "allow" && !isCurrent(e) ? e.score : null));
    const flagged = recent.map((e) => (e.decision !== "allow" && !isCurrent(e) ? e.score : null));
    const current = recent.map((e) => (isCurrent(e) ? e.score : null));
    const all = recent.map((e) => e.score);
    const dots = (color, size) => ({ stroke: color, width: 0, paths: () => null, points: { show: true, size, width: 2, stroke: color, fill: color } });
    const span = xs.length > 1 ? xs[xs.length - 1] - xs[0] : 0;
    const pad = Math.max(span * 0.04, 1800);
    const opts = {
      ...chartSize(el, 180),
      legend: { show: false },
      cursor: { points: { size: 8 }, drag: { x: false, y: false } },
      scales: {
        x: { time: true, range: () => [xs[0] - pad, xs[xs.length - 1] + pad] },
        y: { range: () => [0, 1] },
      },
      axes: [
        {
          stroke: "#5b6b7a", grid: { stroke: "#eef1f4" }, space: 80,
          incrs: [3600, 3 * 3600, 6 * 3600, 12 * 3600, DAY, 2 * DAY, 7 * DAY, 14 * DAY, 28 * DAY],
          values: (_u, ticks, _i, _space, incr) => ticks.map((t) => tickText(t, incr)),
        },
        { stroke: "#5b6b7a", grid: { stroke: "#eef1f4" }, size: 46, splits: () => [0, 0.25, 0.5, 0.75, 1], values: (_u, t) => t.map((v) => v.toFixed(2)) },
      ],
      series: [
        {},
        { label: "Score", stroke: "#cbd5e1", width: 1, points: { show: false } },
        { label: "Allowed", ...dots(COLORS.allow, 7) },
        { label: "Flagged", ...dots(COLORS.flagged, 8) },
        { label: "This case", ...dots(COLORS.current, 12) },
      ],
    };
    this.chart = new uPlot(opts, [xs, all, allow, flagged, current], el);
    this.watch(el, 180);
  }

  watch(el, height) {
    if (!window.ResizeObserver) return;
    let last = el.clientWidth;
    this.observer = new ResizeObserver(() => {
      const width = el.clientWidth;
      if (this.chart && width && width !== last) {
        last = width;
        this.chart.setSize(chartSize(el, height));
      }
    });
    this.observer.observe(el);
  }
}

const tickDay = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });
const tickHour = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

/** A time axis tick in the browser's time zone: the day, or the hour when ticks are hours. */
function tickText(seconds, incr) {
  const d = new Date(seconds * 1000);
  if (incr >= DAY) return tickDay.format(d);
  return d.getHours() === 0 && d.getMinutes() === 0 ? tickDay.format(d) : tickHour.format(d);
}

function approvalText(a) {
  if (a.status === "pending") return `· waiting for a store manager to approve or reject it (mode ${a.mode}).`;
  if (a.status === "applied" || a.status === "approved") return "· a manager approved it.";
  if (a.status === "rejected") return "· a manager rejected it.";
  if (a.status === "shadow") return "· shadow mode: logged only, nobody is asked.";
  return `· ${humanize(a.status).toLowerCase()} (mode ${a.mode}).`;
}

function sentence(text) {
  const t = String(text || "").trim();
  if (!t) return "";
  return `${t[0].toUpperCase()}${t.slice(1)}${/[.!?]$/.test(t) ? "" : "."}`;
}

function evidencePair(code, name, value, currency) {
  if (value === null || value === undefined || value === "") return null;
  let [label, how] = EVIDENCE[name] || [humanize(name), typeof value === "number" ? "decimal" : "text"];
  if (name === "store_p99") {
    [label, how] = code === "high_value_return" ? ["The store's top 1% of refunds start at", "money"] : ["The store's usual most (99%)", "decimal"];
  }
  return [label, evidenceValue(how, value, currency)];
}

function evidenceValue(how, value, currency) {
  const n = Number(value);
  switch (how) {
    case "money": return Number.isSafeInteger(n) ? formatMoney(n, currency) : String(value);
    case "percent": return Number.isFinite(n) ? `${Math.round(n * 1000) / 10}%` : String(value);
    case "count": return Number.isFinite(n) ? formatCount(n) : String(value);
    case "decimal": return Number.isFinite(n) ? String(Math.round(n * 100) / 100) : String(value);
    case "hour": return Number.isFinite(n) ? `${String(n).padStart(2, "0")}:00` : String(value);
    case "weekday": return WEEKDAYS[n] || String(value);
    case "receipt": return RECEIPTS[value] || String(value);
    case "list": return Array.isArray(value) ? value.map(humanize).join(", ") : String(value);
    default: return typeof value === "object" ? JSON.stringify(value) : String(value);
  }
}

function key(name, text) {
  return h("li", { dataset: { series: name } }, h("span", { class: `swatch key-risk-${name}`, "aria-hidden": "true" }), text);
}

function chartSize(el, height) {
  const width = Math.max(280, el.clientWidth || el.parentElement.clientWidth - 36);
  return { width, height: width < 600 ? Math.round(height * 0.9) : height };
}

// ---- exception reports -----------------------------------------------------------------------

function localToday() {
  const d = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

async function renderReports(root, ctx) {
  const store = ctx.query.get("store") || "";
  const days = PERIODS.some(([v]) => v === ctx.query.get("days")) ? ctx.query.get("days") : "30";
  const today = localToday();
  const since = days === "all" ? "" : secondsToDay(dayToSeconds(today) - (Number(days) - 1) * DAY);
  const stores = await ctx.stores().catch(() => []);
  const change = () => ctx.navigate(`#/risk/reports${query({ store: storeSel.value, days: periodSel.value === "30" ? "" : periodSel.value })}`);
  const storeSel = select([["", "All my stores"], ...stores.map((s) => [s.store, s.name])], store, { id: "report-store", onchange: change });
  const periodSel = select(PERIODS, days, { id: "report-days", onchange: change });

  replaceChildren(root,
    h("div", { class: "page-head" },
      h("div", {}, h("h1", {}, "Risk"),
        h("p", { class: "muted small", id: "report-meta" }, since
          ? `Exception reports, ${formatDay(since)} to ${formatDay(today)} (store-local days)`
          : "Exception reports, all time")),
      h("form", { class: "filters risk-filters", "aria-label": "Choose the report", onsubmit: (e) => e.preventDefault() },
        field("Store", storeSel), field("Period", periodSel))),
    tabs("reports"),
    h("div", { id: "report-state" }, h("p", { class: "muted" }, "Loading the reports…")),
  );
  let r;
  try {
    r = await api(`/v1/risk/reports${query({ store, since })}`, { signal: ctx.signal });
  } catch (err) {
    if (err.name === "AbortError") return undefined;
    replaceChildren(root.querySelector("#report-state"), errorNotice(err, "The reports could not be loaded"));
    return undefined;
  }
  const view = new ReportsView(root, ctx, { store, since, until: today });
  view.draw(r);
  return () => view.stop();
}

class ReportsView {
  constructor(root, ctx, period) {
    this.root = root;
    this.ctx = ctx;
    this.period = period;
    this.chart = null;
    this.observer = null;
  }

  stop() {
    if (this.observer) this.observer.disconnect();
    this.observer = null;
    if (this.chart) this.chart.destroy();
    this.chart = null;
  }

  draw(r) {
    const totals = { new: 0, in_review: 0, confirmed: 0, dismissed: 0, require_manager: 0 };
    for (const e of r.by_employee) for (const k of Object.keys(totals)) totals[k] += e[k] || 0;
    const rate = r.scored ? `${(Math.round((1000 * r.cases) / r.scored) / 10).toFixed(1)}% of events scored` : "no events scored";
    const figure = (id, label, value, sub) => h("div", { class: "figure", id },
      h("span", { class: "figure-label" }, label), h("span", { class: "big" }, value), sub ? h("span", { class: "sub" }, sub) : null);
    const state = this.root.querySelector("#report-state");
    replaceChildren(state);
    if (r.cases === 0) {
      state.appendChild(empty("No cases in this period",
        r.scored ? `${formatCount(r.scored)} till events were scored and none was flagged.` : "No till events were scored in this period."));
    }
    const q = (extra) => `#/risk${query({ store: this.period.store, ...extra })}`;
    state.after(
      h("section", { class: "card figures", id: "report-figures", "aria-label": "Totals" },
        figure("fig-scored", "Events scored", formatCount(r.scored)),
        figure("fig-cases", "Cases opened", formatCount(r.cases), rate),
        figure("fig-open", "Open", formatCount(totals.new + totals.in_review), `${formatCount(totals.in_review)} in review`),
        figure("fig-confirmed", "Confirmed losses", formatCount(totals.confirmed)),
        figure("fig-dismissed", "Dismissed", formatCount(totals.dismissed)),
        figure("fig-manager", "Needed a manager", formatCount(totals.require_manager))),
      h("div", { class: "report-grid" },
        h("section", { class: "card card-wide", id: "report-days-card", "aria-labelledby": "days-title" },
          h("h2", { id: "days-title" }, "Cases over time"),
          h("div", { class: "card-state", "data-for": "days" }),
          h("div", { class: "chart", id: "report-chart", role: "img", "aria-label": "Cases opened per store-local day (the table under the chart has the figures)" }),
          h("p", { class: "readout", id: "report-readout", "aria-live": "polite" }),
          h("details", { class: "more" }, h("summary", {}, "Cases per day as a table"),
            h("table", { class: "table compact", id: "report-days" },
              h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Day"), h("th", { scope: "col", class: "num" }, "Cases"))),
              h("tbody", {}, r.by_day.map((d) => h("tr", { dataset: { day: d.day } },
                h("th", { scope: "row" }, formatDay(d.day)), h("td", { class: "num" }, formatCount(d.cases)))))))),
        h("section", { class: "card", id: "report-employees-card", "aria-labelledby": "emp-title" },
          h("h2", { id: "emp-title" }, "By employee"),
          r.by_employee.length ? h("div", { class: "scroll-x" }, h("table", { class: "table compact", id: "report-employees" },
            h("caption", { class: "visually-hidden" }, "Cases by employee, most first"),
            h("thead", {}, h("tr", {},
              h("th", { scope: "col" }, "Employee"),
              h("th", { scope: "col", class: "num" }, "Cases"),
              h("th", { scope: "col", class: "num" }, "Open"),
              h("th", { scope: "col", class: "num" }, "Confirmed"),
              h("th", { scope: "col", class: "num" }, "Dismissed"),
              h("th", { scope: "col", class: "num" }, "Manager"))),
            h("tbody", {}, r.by_employee.map((e) => h("tr", { dataset: { employee: e.employee_id } },
              h("th", { scope: "row" }, e.employee_id === "(none)" ? h("span", { class: "muted" }, "no employee")
                : h("a", { href: q({ employee: e.employee_id, state: "any" }) }, e.employee_id)),
              h("td", { class: "num", "data-col": "cases" }, formatCount(e.cases)),
              h("td", { class: "num", "data-col": "open" }, formatCount((e.new || 0) + (e.in_review || 0))),
              h("td", { class: "num", "data-col": "confirmed" }, formatCount(e.confirmed || 0)),
              h("td", { class: "num", "data-col": "dismissed" }, formatCount(e.dismissed || 0)),
              h("td", { class: "num", "data-col": "require_manager" }, formatCount(e.require_manager || 0)))))))
            : h("p", { class: "muted" }, "No cases.")),
        h("section", { class: "card", id: "report-reasons-card", "aria-labelledby": "reason-title" },
          h("h2", { id: "reason-title" }, "By reason"),
          r.by_reason.length ? this.reasonBars(r.by_reason) : h("p", { class: "muted" }, "No cases."),
          r.by_reason.length ? h("p", { class: "muted small" }, "A case with several reasons counts under each.") : null),
      ),
    );
    this.drawDays(r.by_day);
  }

  reasonBars(rows) {
    const max = Math.max(1, ...rows.map((x) => x.cases));
    const list = h("ul", { class: "bars", id: "report-reasons" }, rows.map((x) => h("li", { dataset: { code: x.code } },
      h("span", { class: "reason-name" }, reasonName(x.code)),
      h("span", { class: "count" }, formatCount(x.cases)),
      h("span", { class: "track", "aria-hidden": "true" },
        h("span", { class: "fill", "data-pct": Math.max(2, Math.round((100 * x.cases) / max)) })))));
    // Widths go in through the CSSOM (the page's CSP allows no inline style attributes).
    for (const f of list.querySelectorAll(".fill")) f.style.width = `${f.dataset.pct}%`;
    return list;
  }

  drawDays(byDay) {
    const el = this.root.querySelector("#report-chart");
    const readout = this.root.querySelector("#report-readout");
    if (byDay.length === 0) {
      el.hidden = true;
      setCardState(this.root, "days", "empty", "No cases in this period.");
      return;
    }
    // Every day of the period (days with no case are zero), store-local days shown as they are.
    const counts = new Map(byDay.map((d) => [d.day, d.cases]));
    const first = this.period.since || byDay[0].day;
    const lastDay = byDay[byDay.length - 1].day > this.period.until ? byDay[byDay.length - 1].day : this.period.until;
    const xs = [];
    for (let t = dayToSeconds(first < byDay[0].day ? first : byDay[0].day); t <= dayToSeconds(lastDay); t += DAY) xs.push(t);
    const ys = xs.map((t) => counts.get(secondsToDay(t)) || 0);
    const show = (idx) => {
      const i = idx ?? xs.length - 1;
      if (i === null || i < 0 || i >= xs.length) return;
      readout.textContent = `${formatDay(secondsToDay(xs[i]))}: ${formatCount(ys[i])} case${ys[i] === 1 ? "" : "s"}`;
    };
    show(null);
    if (typeof window.uPlot !== "function") {
      setCardState(this.root, "days", "error", "The chart library did not load; the table below has the figures.");
      return;
    }
    const uPlot = window.uPlot;
    const bars = uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.7, 40] }) : undefined;
    const opts = {
      ...chartSize(el, 220),
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      legend: { show: false },
      cursor: { points: { show: false }, drag: { x: false, y: false } },
      scales: {
        x: { time: true, range: () => [xs[0] - DAY / 2, xs[xs.length - 1] + DAY / 2] },
        y: { range: (_u, _min, max) => [0, Math.max(1, Math.ceil(max * 1.15))] },
      },
      axes: [
        {
          stroke: "#5b6b7a", grid: { show: false }, space: 60,
          incrs: [1, 2, 7, 14, 28, 56, 91, 182, 364].map((n) => n * DAY),
          values: (_u, ticks) => ticks.map((t) => formatShortDay(secondsToDay(t))),
        },
        { stroke: "#5b6b7a", grid: { stroke: "#eef1f4" }, size: 40, values: (_u, ticks) => ticks.map((t) => (Number.isInteger(t) ? formatCount(t) : "")) },
      ],
      series: [
        {},
        { label: "Cases", stroke: COLORS.cases, fill: "rgba(15, 118, 110, 0.35)", width: 1, paths: bars, points: { show: !bars } },
      ],
      hooks: { setCursor: [(u) => show(u.cursor.idx)] },
    };
    // Days without a case are drawn as nothing rather than a flat bar (the readout says 0).
    this.chart = new uPlot(opts, [xs, ys.map((y) => (y > 0 ? y : null))], el);
    if (window.ResizeObserver) {
      let last = el.clientWidth;
      this.observer = new ResizeObserver(() => {
        const width = el.clientWidth;
        if (this.chart && width && width !== last) {
          last = width;
          this.chart.setSize(chartSize(el, 220));
        }
      });
      this.observer.observe(el);
    }
  }
}

export default {
  path: "/risk",
  title: "Risk",
  permission: "risk:read",
  render(root, ctx) {
    if (ctx.rest[0] === "case" && ctx.rest.length > 1) return renderCase(root, ctx, ctx.rest.slice(1).join("/"));
    if (ctx.rest[0] === "reports") return renderReports(root, ctx);
    return renderQueue(root, ctx);
  },
};
