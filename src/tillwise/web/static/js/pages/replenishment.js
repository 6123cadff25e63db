// Replenishment, one store at a time: the items at risk (most at risk first, with on hand —
// as planned, and "now" under it when the POS reported another level since — on order,
// reorder point, order-up-to level and weeks of cover), the purchase orders and transfers
// the nightly plan proposed — each line with its justification in plain words and the facts
// behind it — with Approve, Edit quantities then approve, and Reject (with a reason) for roles
// that may decide, and a forecast chart per SKU: the daily units sold (days out of stock marked:
// they are censored, not zero demand), the forecast mean with its 80% and 95% intervals, the
// store's holidays and events marked (those ahead with their learned effect), the method and
// its backtested accuracy. Roles that may (replenishment:write: store managers, buyers, regional
// managers) stop reordering an item — discontinued, phased out, bought another way — with a
// reason, and resume it; a stopped item shows "Not reordered" with why, who and when, and is
// no longer counted at risk (the plan's quantities follow at its next run). They also adjust an
// item's forecast over some days — a buyer's knowledge the history cannot have: an end-cap
// display, a local event, a road closure — by a change in percent, with a reason, and remove
// it; everyone who reads the plan sees an item's adjustment in words ("Forecast +50% from 1 Dec
// to 14 Dec 2025: “End-cap display”"), who set it, and whether the plan's quantities already
// follow it or will at the next plan.
//
// Under the orders, the store's overstock: the items holding free stock beyond their
// order-up-to level with more than four weeks of cover (no demand forecast: all of it), most
// money tied up first, with the total at cost (left out for roles without costs:read) — what to
// move to another store, mark down or stop reordering.
//
// The store's vendors and their terms are a link away ("Vendor terms", and each item's vendor:
// the Vendors page, at that item).
//
// Routes: #/replenishment (the first store in scope), #/replenishment/<store>[?sku=<sku>].

import { api, ApiError, query } from "../api.js";
import {
  busy, closable, code, costHidden, empty, errorNotice, facts, field, h, notice, pill, replaceChildren, select,
  setCardState,
} from "../dom.js";
import {
  dayToSeconds, formatCount, formatDateTime, formatDay, formatMediumDay, formatShortDay, formatValue, humanize,
  secondsToDay, statusKind,
} from "../format.js";
import {
  accuracyText, decisionPanel, formatDecimal, formatPercent, formatUnits, orderFacts, orderLines,
} from "../proposals.js";

const DAY = 86400;
const HISTORY_DAYS = 56; // actuals shown before the forecast: eight weeks
const TABLE_DAYS = 7; // forecast days listed under the chart
const COLORS = {
  actual: "#334155",
  censored: "#dc2626",
  mean: "#0f766e",
  band80: "rgba(15, 118, 110, 0.28)",
  band95: "rgba(15, 118, 110, 0.12)",
  censoredDay: "rgba(220, 38, 38, 0.08)",
  eventDay: "rgba(180, 83, 9, 0.10)",
  event: "#b45309",
  today: "#94a3b8",
};
const PO = "draft_purchase_order";
const STATUS_ORDER = ["pending", "approved", "failed", "applied"]; // waiting first, then the rest

const STOPPED = "stopped"; // the plan's rule for an item whose reordering was stopped
const COLUMNS = 8; // of the items table
const OVERSTOCK_ROWS = 10; // overstocked items listed before "Show all"
const ITEM_ROWS = 50; // items listed at a time (a store may have thousands at risk)

const storePath = (store) => `#/replenishment/${encodeURIComponent(store)}`;
const withSku = (store, sku) => `${storePath(store)}${query({ sku })}`;
const vendorsPath = (conn, params = {}) => `#/vendors/${encodeURIComponent(conn)}${query(params)}`;

class Replenishment {
  constructor(root, ctx) {
    this.root = root;
    this.ctx = ctx;
    this.store = null;
    this.plan = null;
    this.showAll = false;
    this.chart = null;
    this.observer = null;
    this.forecastSeq = 0;
    this.formSeq = 0;
    // Stopping and resuming reordering: the server decides every request; this only hides
    // the buttons from roles that could not use them.
    this.canStop = ctx.can("replenishment:write");
    // Adjusting an item's forecast takes the same permission; reading the adjustments does not.
    this.canAdjust = ctx.can("replenishment:write");
    this.adjustments = new Map(); // sku → the live adjustment; null when they could not be read
    // The vendors' terms (lead time, case packs, …) are read, and changed, on the Vendors page.
    this.canVendors = ctx.can("products:read");
  }

  $(selector) {
    return this.root.querySelector(selector);
  }

  stop() {
    this.destroyChart();
  }

  async mount() {
    replaceChildren(this.root, h("h1", {}, "Replenishment"), h("p", { class: "muted" }, "Loading…"));
    let stores;
    try {
      const body = await api("/v1/replenishment/stores", { signal: this.ctx.signal });
      stores = Array.isArray(body) ? body : body.data || [];
    } catch (err) {
      if (err.name === "AbortError") return;
      replaceChildren(this.root, h("h1", {}, "Replenishment"), errorNotice(err, "The stores could not be loaded"));
      return;
    }
    if (stores.length === 0) {
      replaceChildren(this.root, h("h1", {}, "Replenishment"), empty("No store has a replenishment plan yet",
        "Plans are made nightly for every store with sales history; ", code("tillwise replenish plan --location ID"),
        " shows one without writing anything.",
        this.canVendors ? [" Meanwhile, check your ", h("a", { href: "#/vendors", id: "repl-vendors" }, "vendor terms"),
          ": lead times, case packs, minimum orders."] : null));
      return;
    }
    const wanted = this.ctx.rest[0];
    const current = stores.find((s) => s.store === wanted) || stores[0];
    if (current.store !== wanted) {
      // #/replenishment (or a store out of scope): show the first store, and say so in the address.
      window.history.replaceState(window.history.state, "", storePath(current.store));
    }
    this.store = current;
    this.stores = stores;
    this.skeleton();
    await this.loadPlan();
  }

  skeleton() {
    const picker = select(this.stores.map((s) => [s.store, storeOption(s)]), this.store.store, {
      id: "repl-store",
      onchange: (event) => this.ctx.navigate(storePath(event.target.value)),
    });
    replaceChildren(this.root,
      h("div", { class: "page-head" },
        h("div", {},
          h("h1", {}, "Replenishment"),
          h("p", { class: "muted small", id: "plan-meta" }, "Loading the plan…")),
        h("form", { class: "filters", "aria-label": "Choose a store", onsubmit: (e) => e.preventDefault() },
          field("Store", picker),
          this.canVendors ? h("a", {
            class: "btn", id: "repl-vendors", href: vendorsPath(this.store.connection_id),
          }, "Vendor terms") : null),
      ),
      h("div", { class: "grid repl-grid" },
        h("section", { class: "card card-wide", id: "risk-card", "aria-labelledby": "risk-title" },
          h("div", { class: "card-head" },
            h("h2", { id: "risk-title", tabindex: -1 }, "Items at risk"),
            h("div", { class: "controls" },
              h("span", { class: "pill", id: "risk-count" }, "–"),
              h("button", {
                class: "btn btn-small", type: "button", id: "risk-all", "aria-pressed": "false", hidden: true,
                onclick: () => this.toggleAll(),
              }, "Show every item"))),
          h("div", { id: "risk-notice" }),
          h("div", { class: "card-state", "data-for": "risk" }),
          h("div", { class: "scroll-x" }, h("table", { class: "table compact", id: "risk-table", hidden: true },
            h("caption", { class: "visually-hidden" }, "Items, most at risk first"),
            h("thead", {}, h("tr", {},
              h("th", { scope: "col" }, "Item"),
              h("th", { scope: "col", class: "num" }, "On hand"),
              h("th", { scope: "col", class: "num" }, "On order"),
              h("th", { scope: "col", class: "num" }, "Reorder point"),
              h("th", { scope: "col", class: "num" }, "Order-up-to"),
              h("th", { scope: "col", class: "num" }, "Weeks of cover"),
              h("th", { scope: "col", class: "col-vendor" }, "Vendor"),
              h("th", { scope: "col" }, h("span", { class: "visually-hidden" },
                this.canStop ? "Forecast, adjustments and reordering" : "Forecast")))),
            h("tbody"))),
          h("button", {
            class: "btn btn-small", type: "button", id: "risk-more", hidden: true,
            onclick: () => { this.itemRows = (this.itemRows || ITEM_ROWS) + ITEM_ROWS; this.drawItems(); },
          }, "Show more")),
        h("section", { class: "card card-wide", id: "forecast-card", "aria-labelledby": "forecast-title", hidden: true }),
        h("section", { class: "card card-wide", id: "orders-card", "aria-labelledby": "orders-title" },
          h("div", { class: "card-head" },
            h("h2", { id: "orders-title" }, "Proposed orders"),
            h("span", { class: "pill", id: "orders-count" }, "–")),
          h("div", { class: "card-state", "data-for": "orders" }),
          h("div", { id: "orders", class: "po-list" })),
        h("section", { class: "card card-wide", id: "overstock-card", "aria-labelledby": "overstock-title", hidden: true },
          h("div", { class: "card-head" },
            h("h2", { id: "overstock-title" }, "Overstock"),
            h("div", { class: "controls" },
              h("span", { class: "pill", id: "overstock-count" }, "–"),
              h("button", {
                class: "btn btn-small", type: "button", id: "overstock-all", "aria-pressed": "false", hidden: true,
                onclick: () => { this.overstockAll = !this.overstockAll; this.drawOverstock(); },
              }, "Show all"))),
          h("p", { class: "muted", id: "overstock-summary" }),
          h("div", { class: "scroll-x" }, h("table", { class: "table compact", id: "overstock-table" },
            h("caption", { class: "visually-hidden" }, "Items holding stock beyond their need, most money first"),
            h("thead"), h("tbody")))),
      ),
    );
  }

  async loadPlan() {
    let plan;
    let adjustments;
    try {
      // the live forecast adjustments, and the people's names too: who stopped reordering an
      // item, who adjusted its forecast
      [plan, adjustments] = await Promise.all([
        api(this.planUrl(), { signal: this.ctx.signal }), this.fetchAdjustments(), this.ctx.people(),
      ]);
    } catch (err) {
      if (err.name === "AbortError") return;
      const none = err instanceof ApiError && err.status === 404;
      this.$("#plan-meta").textContent = none ? "Not planned yet." : "";
      setCardState(this.root, "risk", none ? "empty" : "error", none
        ? "This store has no plan yet: the nightly batch plans it once it has sales history."
        : `The plan could not be loaded: ${err.message}`);
      setCardState(this.root, "orders", "empty", "No orders proposed.");
      return;
    }
    this.plan = plan;
    this.items = plan.items || [];
    this.adjustments = adjustments;
    if (!plan.planned_at && this.items.length === 0 && (plan.proposals || []).length === 0) {
      this.$("#plan-meta").textContent = "Not planned yet.";
      setCardState(this.root, "risk", "empty",
        "This store has no plan yet: the nightly batch plans it once it has sales history.");
      setCardState(this.root, "orders", "empty", "No orders proposed.");
      return;
    }
    this.drawMeta();
    this.drawItems();
    this.drawOrders();
    this.drawOverstock();
    if (adjustments === null) {
      replaceChildren(this.$("#risk-notice"),
        errorNotice(this.adjustmentsError, "The forecast adjustments could not be loaded"));
    }
    const sku = this.ctx.query.get("sku");
    if (sku) this.openForecast(sku, { scroll: false });
  }

  planUrl() {
    return `/v1/replenishment/stores/${encodeURIComponent(this.store.store)}/plan`;
  }

  stopUrl(sku) {
    return `/v1/replenishment/stores/${encodeURIComponent(this.store.store)}/stops/${encodeURIComponent(sku)}`;
  }

  adjustmentsUrl() {
    return `/v1/replenishment/stores/${encodeURIComponent(this.store.store)}/adjustments`;
  }

  adjustmentUrl(sku) {
    return `${this.adjustmentsUrl()}/${encodeURIComponent(sku)}`;
  }

  /** The store's live forecast adjustments by SKU; null (the error kept) when they could not be read. */
  async fetchAdjustments() {
    try {
      const body = await api(this.adjustmentsUrl(), { signal: this.ctx.signal });
      const list = Array.isArray(body) ? body : (body && body.data) || [];
      this.adjustmentsError = null;
      return new Map(list.map((a) => [a.sku, a]));
    } catch (err) {
      if (err.name === "AbortError") throw err;
      this.adjustmentsError = err;
      return null;
    }
  }

  drawMeta() {
    const p = this.plan;
    const atRisk = this.items.filter((i) => i.at_risk).length;
    const parts = [];
    if (p.planned_at) parts.push(`Planned ${formatDateTime(p.planned_at)}`);
    if (p.model) parts.push(`forecaster ${p.model}${p.version ? ` ${p.version}` : ""}`);
    parts.push(`${formatCount(this.items.length)} item(s), ${formatCount(atRisk)} at risk`);
    this.$("#plan-meta").textContent = parts.join(" · ");
  }

  // ---- items at risk ---------------------------------------------------------------------

  toggleAll() {
    this.showAll = !this.showAll;
    this.itemRows = ITEM_ROWS;
    this.drawItems();
  }

  drawItems() {
    const items = this.items;
    const atRisk = items.filter((i) => i.at_risk);
    const shown = this.showAll ? items : atRisk;
    const count = this.$("#risk-count");
    count.textContent = `${formatCount(atRisk.length)} at risk`;
    count.className = `pill ${atRisk.length ? "bad" : "ok"}`;
    const all = this.$("#risk-all");
    all.hidden = items.length === atRisk.length;
    all.setAttribute("aria-pressed", String(this.showAll));
    all.textContent = this.showAll ? "Only items at risk" : `Show all ${formatCount(items.length)} items`;
    const table = this.$("#risk-table");
    table.hidden = shown.length === 0;
    if (items.length === 0) {
      setCardState(this.root, "risk", "empty", "The plan has no items: nothing has sold here yet.");
    } else if (shown.length === 0) {
      setCardState(this.root, "risk", "empty", "Nothing is at risk: every item is at or above its reorder point.");
    } else setCardState(this.root, "risk", "empty");
    // the first rows only (most at risk first), more on request: the orders below stay in reach
    const rows = this.itemRows || ITEM_ROWS;
    replaceChildren(table.querySelector("tbody"), shown.slice(0, rows).map((item) => this.itemRow(item)));
    const more = this.$("#risk-more");
    const rest = shown.length - rows;
    more.hidden = rest <= 0;
    more.textContent = `Show ${formatCount(Math.min(ITEM_ROWS, rest))} more (${formatCount(rest)} not listed)`;
  }

  itemRow(item) {
    const name = item.name || item.sku;
    const row = h("tr", {
      class: item.at_risk ? "at-risk" : item.stopped ? "stopped" : null, dataset: { sku: item.sku },
    },
      h("th", { scope: "row" }, name,
        h("span", { class: "sub" }, `SKU ${item.sku}`, item.at_risk ? " · " : "", item.at_risk ? pill("At risk", "bad") : null),
        this.stopNote(item),
        this.adjustmentNote(item, () => row)),
      h("td", { class: "num", "data-col": "on_hand" }, count0(item.on_hand), nowNote(item)),
      h("td", { class: "num", "data-col": "on_order" }, count0(item.on_order)),
      h("td", { class: "num", "data-col": "reorder_point" }, count0(item.reorder_point)),
      h("td", { class: "num", "data-col": "order_up_to" }, count0(item.order_up_to)),
      h("td", { class: "num", "data-col": "weeks_of_cover" }, weeks(item.weeks_of_cover),
        item.daily_mean !== null && item.daily_mean !== undefined
          ? h("span", { class: "sub" }, `${formatUnits(item.daily_mean)} a day`) : null),
      h("td", { class: "col-vendor" }, !item.vendor ? h("span", { class: "muted" }, "none")
        : this.canVendors ? h("a", {
          href: vendorsPath(this.store.connection_id, { sku: item.sku, name: item.vendor }),
          "aria-label": `${item.vendor}: terms for ${name}`,
        }, item.vendor)
          : item.vendor),
      h("td", { class: "num" }, h("div", { class: "row-tools" },
        h("button", {
          class: "btn btn-small", type: "button", "aria-label": `Forecast chart of ${name}`,
          onclick: () => this.openForecast(item.sku),
        }, "Forecast"),
        this.canAdjust ? this.adjustButton(item, () => row) : null,
        this.canStop ? this.stopButton(item, () => row) : null)),
    );
    return row;
  }

  // ---- overstock ---------------------------------------------------------------------------

  /** The items holding free stock beyond their order-up-to level with more than the plan's
   * weeks of cover (no demand forecast: all of it), most money tied up first — what to move
   * to another store (the plan proposes those transfers), mark down or stop reordering. */
  drawOverstock() {
    const card = this.$("#overstock-card");
    const total = this.plan.overstock;
    const over = this.items.filter((i) => i.excess > 0);
    card.hidden = !total || over.length === 0;
    if (card.hidden) return;
    const hidden = over.some((i) => i.costs_hidden);
    over.sort((a, b) => Number(b.excess_value || 0) - Number(a.excess_value || 0)
      || b.excess - a.excess || (a.sku < b.sku ? -1 : 1));
    const count = this.$("#overstock-count");
    count.textContent = `${formatCount(over.length)} item${over.length === 1 ? "" : "s"}`;
    count.className = "pill warn";
    const worth = hidden ? ["; their value at cost is ", costHidden()]
      : total.value !== null ? [", worth ", h("strong", { id: "overstock-value" }, formatDecimal(total.value, total.currency)), " at cost"]
        : [];
    replaceChildren(this.$("#overstock-summary"),
      `${formatCount(total.units)} unit${total.units === 1 ? "" : "s"} beyond their order-up-to level with more than `
        + `${total.min_weeks_of_cover} weeks of cover`, ...worth,
      !hidden && total.unpriced ? ` (${formatCount(total.unpriced)} without a unit cost)` : "", ".");
    const all = this.$("#overstock-all");
    all.hidden = over.length <= OVERSTOCK_ROWS;
    all.setAttribute("aria-pressed", String(Boolean(this.overstockAll)));
    all.textContent = this.overstockAll ? `Only the first ${OVERSTOCK_ROWS}` : `Show all ${formatCount(over.length)}`;
    const table = this.$("#overstock-table");
    replaceChildren(table.querySelector("thead"), h("tr", {},
      h("th", { scope: "col" }, "Item"),
      h("th", { scope: "col", class: "num" }, "On hand"),
      h("th", { scope: "col", class: "num" }, "On order"),
      h("th", { scope: "col", class: "num" }, "Order-up-to"),
      h("th", { scope: "col", class: "num" }, "Weeks of cover"),
      h("th", { scope: "col", class: "num" }, "Overstock"),
      hidden ? null : h("th", { scope: "col", class: "num" }, "At cost"),
      h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Forecast"))));
    const shown = this.overstockAll ? over : over.slice(0, OVERSTOCK_ROWS);
    replaceChildren(table.querySelector("tbody"), shown.map((item) => {
      const name = item.name || item.sku;
      return h("tr", { dataset: { sku: item.sku } },
        h("th", { scope: "row" }, name, h("span", { class: "sub" }, `SKU ${item.sku}`,
          item.stopped ? [" · ", pill("Not reordered")] : null)),
        h("td", { class: "num", "data-col": "on_hand" }, count0(item.on_hand)),
        h("td", { class: "num", "data-col": "on_order" }, count0(item.on_order)),
        h("td", { class: "num", "data-col": "order_up_to" }, count0(item.order_up_to)),
        h("td", { class: "num", "data-col": "weeks_of_cover" }, weeks(item.weeks_of_cover)),
        h("td", { class: "num", "data-col": "excess" }, count0(item.excess)),
        hidden ? null : h("td", { class: "num", "data-col": "excess_value" },
          item.excess_value === null ? h("span", { class: "muted" }, "no unit cost") : formatDecimal(item.excess_value, item.currency)),
        h("td", { class: "num" }, h("button", {
          class: "btn btn-small", type: "button", "aria-label": `Forecast chart of ${name}`,
          onclick: () => this.openForecast(item.sku),
        }, "Forecast")));
    }));
  }

  // ---- stopping and resuming reordering --------------------------------------------------

  /** Under the item's name: "Not reordered" with why, who and when; or that it resumes. */
  stopNote(item) {
    const s = item.stopped;
    if (!s) {
      return item.rule === STOPPED
        ? h("span", { class: "sub stop-next" }, "Reordered again from the next plan on.")
        : null;
    }
    return h("div", { class: "stop-note" },
      h("span", { class: "sub" }, pill("Not reordered"), " ", h("span", { class: "stop-reason" }, `“${s.reason}”`)),
      h("span", { class: "sub stop-by" }, `Stopped by ${this.ctx.actorName(s.stopped_by)}`,
        s.stopped_at ? ` · ${formatDateTime(s.stopped_at)}` : ""),
      item.rule === STOPPED ? null
        : h("span", { class: "sub stop-next" }, "Takes effect at the next plan."));
  }

  stopButton(item, rowOf) {
    const name = item.name || item.sku;
    if (item.stopped) {
      const resume = h("button", {
        class: "btn btn-small", type: "button", dataset: { action: "resume" }, "aria-label": `Resume reordering ${name}`,
      }, "Resume reordering");
      resume.addEventListener("click", () => this.resume(item, resume, rowOf()));
      return resume;
    }
    const open = h("button", {
      class: "btn btn-small", type: "button", dataset: { action: "stop" }, "aria-label": `Stop reordering ${name}`,
    }, "Stop reordering");
    open.addEventListener("click", () => this.openStopForm(item, open, rowOf()));
    return open;
  }

  /** The row under an item's row (its stop form, or why a change was refused), made once. */
  extraCell(row) {
    const next = row.nextElementSibling;
    if (next && next.classList.contains("item-extra")) return next.firstElementChild;
    const cell = h("td", { colspan: COLUMNS });
    row.after(h("tr", { class: "item-extra", dataset: { for: row.dataset.sku } }, cell));
    return cell;
  }

  /** Put `content` (a form, or why a change was refused) under the row, closing what was there. */
  showExtra(row, content) {
    for (const button of row.querySelectorAll("button[data-action][hidden]")) button.hidden = false;
    replaceChildren(this.extraCell(row), content);
  }

  dropExtra(row) {
    const next = row && row.nextElementSibling;
    if (next && next.classList.contains("item-extra")) next.remove();
  }

  openStopForm(item, open, row) {
    const name = item.name || item.sku;
    const id = `stop-form-${++this.formSeq}`;
    const reason = h("input", {
      type: "text", id: `${id}-reason`, name: "reason", required: true, maxlength: 500, autocomplete: "off",
      "data-field": "reason", "aria-describedby": `${id}-error`,
    });
    const go = h("button", { class: "btn btn-primary btn-small", type: "submit" }, "Stop reordering");
    const cancel = h("button", { class: "btn btn-small", type: "button" }, "Cancel");
    const out = h("div", { class: "action-error", id: `${id}-error` });
    const form = h("form", { class: "inline-form stop-form", id, "aria-label": `Stop reordering ${name}` },
      field(`Why stop reordering ${name}?`, reason, "Discontinued, phased out, bought another way…"),
      h("div", { class: "stop-buttons" }, go, cancel),
      out);
    const close = () => {
      this.dropExtra(row);
      open.hidden = false;
      open.focus();
    };
    closable(form, cancel, close);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      replaceChildren(out);
      reason.removeAttribute("aria-invalid");
      let stop;
      try {
        // as typed: the server trims it, and refuses a blank one naming the field
        stop = await busy(go, "Stopping…", () => api(this.stopUrl(item.sku), { method: "PUT", body: { reason: reason.value } }));
      } catch (err) {
        if (err.name === "AbortError") return;
        replaceChildren(out, errorNotice(err, "Not stopped"));
        if (err instanceof ApiError && err.field === "reason") reason.setAttribute("aria-invalid", "true");
        reason.focus();
        return;
      }
      item.stopped = { reason: stop.reason, stopped_by: stop.stopped_by, stopped_at: stop.stopped_at };
      item.at_risk = false;
      if (!(await this.refreshItems())) return;
      this.changed(item.sku, `Reordering of ${name} stopped: the next plan proposes no order or transfer for it.`,
        "resume");
    });
    this.showExtra(row, form);
    open.hidden = true;
    reason.focus();
  }

  resume(item, button, row) {
    const name = item.name || item.sku;
    return this.removeFromRow(item, button, row, this.stopUrl(item.sku), {
      busyText: "Resuming…",
      failed: "Not resumed",
      done: () => { item.stopped = null; },
      said: `Reordering of ${name} resumed: the next plan reorders it again.`,
      focus: "stop",
    });
  }

  /** DELETE `url` from a row's button: on success `done()` updates the item, the items are
   * refreshed and `said` is announced (focus to the row's `focus` button); else why, under the row. */
  async removeFromRow(item, button, row, url, { busyText, failed, done, said, focus }) {
    this.dropExtra(row);
    try {
      await busy(button, busyText, () => api(url, { method: "DELETE" }));
    } catch (err) {
      if (err.name === "AbortError") return;
      this.showExtra(row, errorNotice(err, failed));
      button.focus();
      return;
    }
    done();
    if (!(await this.refreshItems())) return;
    this.changed(item.sku, said, focus);
  }

  /** The items as the server shows them now (a stop counts at once); false when the page was left. */
  async refreshItems() {
    try {
      const [plan, adjustments] = await Promise.all([
        api(this.planUrl(), { signal: this.ctx.signal }), this.fetchAdjustments(),
      ]);
      this.items = plan.items || [];
      this.plan.items = this.items;
      this.plan.overstock = plan.overstock;
      if (adjustments) this.adjustments = adjustments; // else: as changed here
    } catch (err) {
      if (err.name === "AbortError") return false;
      // the change is made; until the plan loads again, the row shows it as changed here
    }
    if (!this.ctx.isCurrent()) return false;
    this.store.at_risk = this.items.filter((i) => i.at_risk).length;
    const option = [...this.$("#repl-store").options].find((o) => o.value === this.store.store);
    if (option) option.textContent = storeOption(this.store);
    this.drawMeta();
    this.drawItems();
    this.drawOverstock();
    return true;
  }

  /** Say what changed, and put the focus on the item's `action` button (or, the item gone from
   * the list, on the heading). */
  changed(sku, text, action) {
    replaceChildren(this.$("#risk-notice"), notice("ok", text));
    const row = this.$(`#risk-table tbody tr[data-sku="${CSS.escape(sku)}"]`);
    const button = row && (row.querySelector(`button[data-action="${action}"]`) || row.querySelector("button[data-action]"));
    (button || this.$("#risk-title")).focus();
  }

  // ---- forecast adjustments --------------------------------------------------------------

  /** Under the item's name: its live adjustment in words, who set it, and whether the plan
   * follows it yet; or that the plan used one since removed. */
  adjustmentNote(item, rowOf) {
    const live = this.adjustments ? this.adjustments.get(item.sku) || null : null;
    const used = item.adjustment || null;
    if (!live) {
      if (!used) return null;
      return h("div", { class: "adjust-note", dataset: { state: this.adjustments ? "removed" : "planned" } },
        h("span", { class: "sub adjust-next" }, this.adjustments
          ? `This plan used a forecast adjustment since removed (${adjustmentText(used)}): the next plan forecasts the item as it is.`
          : `This plan used a forecast adjustment: ${adjustmentText(used)}, “${used.reason}”.`));
    }
    const name = item.name || item.sku;
    let next;
    if (used && sameAdjustment(live, used)) next = plannedText(used);
    else if (used) next = `This plan used another one (${adjustmentText(used)}): orders follow this one at the next plan.`;
    else next = "Orders and the forecast chart follow it at the next plan.";
    let remove = null;
    if (this.canAdjust) {
      remove = h("button", {
        class: "btn btn-small", type: "button", dataset: { action: "unadjust" },
        "aria-label": `Remove the forecast adjustment of ${name} (SKU ${item.sku})`,
      }, "Remove adjustment");
      remove.addEventListener("click", () => this.removeAdjustment(item, remove, rowOf()));
    }
    return h("div", { class: "adjust-note", dataset: { state: "live" } },
      h("span", { class: "sub adjust-what" }, h("span", { class: "adjust-text" }, adjustmentText(live)), ": ",
        h("span", { class: "adjust-reason" }, `“${live.reason}”`)),
      h("span", { class: "sub adjust-by" }, `Set by ${this.ctx.actorName(live.set_by)}`,
        live.set_at ? ` · ${formatDateTime(live.set_at)}` : ""),
      h("span", { class: "sub adjust-next" }, next),
      remove);
  }

  adjustButton(item, rowOf) {
    const name = item.name || item.sku;
    const open = h("button", {
      class: "btn btn-small", type: "button", dataset: { action: "adjust" }, "aria-label": `Adjust the forecast of ${name}`,
    }, "Adjust");
    open.addEventListener("click", () => this.openAdjustForm(item, open, rowOf()));
    return open;
  }

  /** The form: the change in percent, the first and last day, why; a live adjustment filled in. */
  openAdjustForm(item, open, row) {
    const name = item.name || item.sku;
    const id = `adjust-form-${++this.formSeq}`;
    const live = this.adjustments ? this.adjustments.get(item.sku) : null;
    // each input named by the API field it sends (the percent becomes the factor)
    const input = (attrs) => h("input", {
      id: `${id}-${attrs["data-field"]}`, "aria-describedby": `${id}-${attrs["data-field"]}-error`, required: true, ...attrs,
    });
    const percent = input({
      type: "number", name: "percent", "data-field": "factor", min: -100, max: 900, step: "any", inputmode: "decimal",
      value: live ? String(Math.round((live.factor - 1) * 1000) / 10) : "",
    });
    const from = input({ type: "date", name: "starts_on", "data-field": "starts_on", value: live ? live.starts_on : "" });
    const to = input({ type: "date", name: "ends_on", "data-field": "ends_on", value: live ? live.ends_on : "" });
    const reason = input({
      type: "text", name: "reason", "data-field": "reason", maxlength: 500, autocomplete: "off", value: live ? live.reason : "",
    });
    const slot = (control, label, hint) => h("div", { class: "adjust-field" },
      field(label, control, hint),
      h("div", { class: "field-error", id: `${control.id}-error` }));
    const go = h("button", { class: "btn btn-primary btn-small", type: "submit" }, "Save adjustment");
    const cancel = h("button", { class: "btn btn-small", type: "button" }, "Cancel");
    const out = h("div", { class: "action-error", id: `${id}-error` });
    const form = h("form", { class: "inline-form adjust-form", id, "aria-label": `Adjust the forecast of ${name}` },
      slot(percent, "Change in forecast (%)", "50: half as much again; −50: half; −100: none expected"),
      slot(from, "From (first day)"),
      slot(to, "To (last day)"),
      slot(reason, `Why adjust the forecast of ${name}?`, "An end-cap display, a local event, a road closure…"),
      h("div", { class: "stop-buttons" }, go, cancel),
      out);
    const close = () => {
      this.dropExtra(row);
      open.hidden = false;
      open.focus();
    };
    closable(form, cancel, close);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearFieldErrors(form, out);
      // the browser checked it is a number from −100 to 900; 50 → 1.5, −100 → 0
      const factor = Math.round((1 + Number(percent.value) / 100) * 1e6) / 1e6;
      const body = { factor, starts_on: from.value, ends_on: to.value, reason: reason.value };
      let saved;
      try {
        // as typed: the server checks the days against the store's today, and trims the reason
        saved = await busy(go, "Saving…", () => api(this.adjustmentUrl(item.sku), { method: "PUT", body }));
      } catch (err) {
        if (err.name === "AbortError") return;
        showFieldErrors(form, out, err, "Not saved", percent);
        return;
      }
      if (this.adjustments) this.adjustments.set(item.sku, saved);
      if (!(await this.refreshItems())) return;
      this.changed(item.sku,
        `Forecast adjustment saved for ${name}: ${adjustmentText(saved)}. Orders follow it at the next plan.`, "adjust");
    });
    this.showExtra(row, form);
    open.hidden = true;
    percent.focus();
  }

  removeAdjustment(item, button, row) {
    const name = item.name || item.sku;
    return this.removeFromRow(item, button, row, this.adjustmentUrl(item.sku), {
      busyText: "Removing…",
      failed: "Not removed",
      done: () => { if (this.adjustments) this.adjustments.delete(item.sku); },
      said: `The forecast adjustment of ${name} is removed: the next plan forecasts it as it is.`,
      focus: "adjust",
    });
  }

  // ---- proposed orders and transfers -----------------------------------------------------

  drawOrders() {
    const proposals = [...(this.plan.proposals || [])].sort((a, b) => rank(a) - rank(b)
      || (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0));
    const waiting = proposals.filter((p) => p.status === "pending").length;
    const count = this.$("#orders-count");
    count.textContent = `${formatCount(waiting)} waiting`;
    count.className = `pill ${waiting ? "warn" : ""}`.trim();
    const list = this.$("#orders");
    if (proposals.length === 0) {
      setCardState(this.root, "orders", "empty", "No orders or transfers proposed for this store: what is on hand and on order covers the forecast.");
      replaceChildren(list);
      return;
    }
    setCardState(this.root, "orders", "empty");
    replaceChildren(list, this.transferBatches(proposals), proposals.map((p, i) => this.proposalCard(p, `p${i}-`, null)));
  }

  /* Two or more pending transfers from one store: one button approves them all — each still its
   * own approval on the server (scope, rules and audit as one by one); a refused one is named. */
  transferBatches(proposals) {
    if (!this.ctx.can("proposals:approve")) return null;
    const groups = new Map();
    for (const p of proposals) {
      if (p.kind !== "transfer" || p.status !== "pending" || !p.payload) continue;
      const from = p.payload.from_location;
      if (!groups.has(from)) groups.set(from, []);
      groups.get(from).push(p);
    }
    const rows = [...groups].filter(([, waiting]) => waiting.length > 1).map(([from, waiting]) => {
      const name = waiting[0].payload.from_name || this.ctx.storeName(`${waiting[0].connection_id}:${from}`);
      const units = waiting.reduce((n, p) => n + (Number(p.payload.quantity) || 0), 0);
      const button = h("button", {
        class: "btn btn-small btn-primary", type: "button", "data-action": "approve-transfers",
      }, `Approve all ${formatCount(waiting.length)}`);
      button.addEventListener("click", () => this.approveAll(button, waiting, name));
      return h("div", { class: "transfer-batch", dataset: { from } },
        h("p", {}, `${formatCount(waiting.length)} transfers from ${name} wait (${formatCount(units)} units).`),
        button);
    });
    return rows.length ? h("div", { class: "transfer-batches", id: "transfer-batches" }, rows) : null;
  }

  async approveAll(button, waiting, name) {
    let approved = 0;
    const refused = [];
    await busy(button, "Approving…", async () => {
      for (const p of waiting) {
        try {
          const after = await api(`/v1/proposals/${encodeURIComponent(p.id)}/approve`, { method: "POST", body: {} });
          const list = this.plan.proposals || [];
          const at = list.findIndex((q) => q.id === after.id);
          if (at >= 0) list[at] = after;
          approved += 1;
        } catch (err) {
          if (err.name === "AbortError") return;
          refused.push(`${p.payload.sku}: ${err.message}`);
        }
      }
    });
    this.ctx.refreshCounts();
    this.drawOrders();
    const said = `Approved ${formatCount(approved)} of ${formatCount(waiting.length)} transfers from ${name}.`;
    this.$("#orders").prepend(refused.length
      ? notice("error", `${said} Refused: ${refused.join("; ")}`)
      : notice("ok", said));
  }

  proposalCard(p, prefix, message) {
    const isOrder = p.kind === PO;
    const pay = p.payload || {};
    const heading = isOrder
      ? `${(pay.vendor && pay.vendor.name) || "Purchase order"}`
      : `Transfer of ${pay.quantity} × ${pay.sku}`;
    let article = null;
    const redraw = (after, kind, text) => {
      const updated = this.proposalCard(after, prefix, notice(kind, text));
      article.replaceWith(updated);
      const list = this.plan.proposals || [];
      const at = list.findIndex((q) => q.id === after.id);
      if (at >= 0) list[at] = after;
      this.drawCounts();
      const status = updated.querySelector(".po-status");
      if (status) status.focus();
    };
    article = h("article", {
      class: `po${p.status === "pending" ? " po-pending" : ""}`,
      id: `${prefix}proposal`,
      dataset: { id: p.id, kind: p.kind, status: p.status, vendor: isOrder && pay.vendor ? pay.vendor.external_id : "" },
      "aria-labelledby": `${prefix}title`,
    },
      h("header", { class: "po-head" },
        h("div", {},
          h("h3", { id: `${prefix}title` }, heading),
          h("span", { class: "muted small" }, `${humanize(p.kind)} · ${formatDateTime(p.created_at)}`,
            p.status === "pending" && p.expires_at ? ` · expires ${formatDateTime(p.expires_at)}` : "")),
        h("div", { class: "po-side" },
          p.value ? h("span", { class: "value" }, formatValue(p.value)) : null,
          h("span", { class: "po-status", tabindex: -1, dataset: { status: p.status } }, pill(humanize(p.status), statusKind(p.status))),
        ),
      ),
      message,
      h("p", { class: "po-summary" }, p.summary),
      p.explanation ? h("p", { class: "explanation" }, p.explanation) : null,
      pay.held ? notice("info", `Held: ${pay.held}`) : null,
      isOrder
        ? [orderFacts(p, { class: "facts po-facts" }), orderLines(p, { onForecast: (line) => this.openForecast(line.sku) })]
        : facts([
          ["SKU", pay.sku],
          ["From", pay.from_name || this.ctx.storeName(`${p.connection_id}:${pay.from_location}`)],
          ["To", pay.to_name || this.ctx.storeName(`${p.connection_id}:${pay.to_location}`)],
          ["Quantity", pay.quantity],
        ], { class: "facts po-facts" }),
      "pos_order" in p ? posOrder(p.pos_order) : null,
      p.decided_by ? h("p", { class: "muted small" },
        `${humanize(p.status)} by ${this.ctx.actorName(p.decided_by)}`,
        p.decided_at ? ` · ${formatDateTime(p.decided_at)}` : "",
        p.reason ? ` · “${p.reason}”` : "") : null,
      p.approvals && p.approvals.length ? h("p", { class: "muted small po-trail" }, p.approvals.map((a, i) => [
        i ? "; " : "", `${a.name || a.by} (${humanize(a.role)}) approved${a.edited ? " after editing" : ""}`,
      ])) : null,
      decisionPanel(this.ctx, p, { prefix, onDecided: redraw, title: "Decide", wide: false }),
      h("p", { class: "small" }, h("a", { href: `#/approvals/${encodeURIComponent(p.id)}` }, "Open in Approvals")),
    );
    return article;
  }

  drawCounts() {
    const waiting = (this.plan.proposals || []).filter((p) => p.status === "pending").length;
    const count = this.$("#orders-count");
    count.textContent = `${formatCount(waiting)} waiting`;
    count.className = `pill ${waiting ? "warn" : ""}`.trim();
  }

  // ---- the forecast chart ----------------------------------------------------------------

  async openForecast(sku, { scroll = true } = {}) {
    const seq = ++this.forecastSeq;
    const item = this.items.find((i) => i.sku === sku) || { sku, name: sku };
    window.history.replaceState(window.history.state, "", withSku(this.store.store, sku));
    const card = this.$("#forecast-card");
    card.hidden = false;
    card.dataset.sku = sku;
    this.destroyChart();
    const close = h("button", { class: "btn btn-small", type: "button", id: "forecast-close" }, "Close");
    close.addEventListener("click", () => this.closeForecast());
    replaceChildren(card,
      h("div", { class: "card-head" },
        h("h2", { id: "forecast-title" }, `Forecast · ${item.name || sku}`, h("span", { class: "sub" }, `SKU ${sku}`)),
        close),
      h("div", { class: "card-state", "data-for": "forecast" }, "Loading the forecast…"),
    );
    if (scroll) card.scrollIntoView({ block: "start", behavior: "smooth" });
    let body;
    try {
      body = await api(`/v1/replenishment/stores/${encodeURIComponent(this.store.store)}/forecast/${encodeURIComponent(sku)}`,
        { signal: this.ctx.signal });
    } catch (err) {
      if (err.name === "AbortError" || seq !== this.forecastSeq) return;
      setCardState(card, "forecast", "error", err instanceof ApiError && err.status === 404
        ? "No forecast for this item: it has no sales history at this store."
        : `The forecast could not be loaded: ${err.message}`);
      return;
    }
    if (seq !== this.forecastSeq) return;
    this.drawForecast(card, item, body);
  }

  closeForecast() {
    this.forecastSeq += 1;
    this.destroyChart();
    const card = this.$("#forecast-card");
    card.hidden = true;
    replaceChildren(card);
    window.history.replaceState(window.history.state, "", storePath(this.store.store));
  }

  drawForecast(card, item, body) {
    const series = chartSeries(body);
    setCardState(card, "forecast", "empty");
    const legend = h("ul", { class: "chart-key", id: "forecast-legend", "aria-label": "Legend" },
      key("actual", "Units sold a day"),
      key("censored", "Out of stock (censored: not zero demand)"),
      key("mean", "Forecast mean"),
      key("band80", "80% interval"),
      key("band95", "95% interval"),
      series.events.length ? key("event", "Holiday or event") : null);
    const chartEl = h("div", { class: "chart", id: "forecast-chart", role: "img", "aria-label": chartLabel(item, body, series) });
    const readout = h("p", { class: "readout", id: "forecast-readout", "aria-live": "polite" });
    const acc = body.accuracy;
    const horizon = body.forecast || [];
    const meanDaily = horizon.length ? horizon.reduce((s, r) => s + (r.mean || 0), 0) / horizon.length : null;
    const censored = (body.actuals || []).filter((a) => a.censored).length;
    const events = horizon.filter((r) => r.event);
    const factList = facts([
      ["Method", body.summary || body.method || null],
      ["In detail", body.summary ? body.method : null],
      ["Model", body.model ? `${body.model}${body.version ? ` ${body.version}` : ""}` : null],
      ["Backtested accuracy", accuracyText(acc)],
      ["Bias", acc && acc.bias !== null && acc.bias !== undefined ? formatPercent(acc.bias) : null],
      ["Mean forecast", meanDaily === null ? null
        : `${formatUnits(meanDaily)} units a day over the next ${horizon.length} days`],
      ["Days out of stock", `${formatCount(censored)} in the history (left out of the demand, not counted as zero)`],
      ["Holidays and events ahead", events.length
        ? events.map((r) => `${r.event.name} on ${formatShortDay(r.day)} (${effectText(r.event.effect)})`).join("; ")
        : null],
    ], { id: "forecast-facts" });
    const next = horizon.slice(0, TABLE_DAYS);
    const table = h("table", { class: "table compact", id: "forecast-table" },
      h("caption", { class: "visually-hidden" }, `Forecast for the next ${next.length} days`),
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, "Day"),
        h("th", { scope: "col", class: "num" }, "Mean"),
        h("th", { scope: "col", class: "num" }, "80% interval"),
        h("th", { scope: "col", class: "num" }, "95% interval"))),
      h("tbody", {}, next.map((r) => h("tr", { dataset: { day: r.day } },
        h("th", { scope: "row" }, formatShortDay(r.day), r.event
          ? h("span", { class: "event-tag", title: effectText(r.event.effect) }, r.event.name)
          : null),
        h("td", { class: "num" }, formatUnits(r.mean)),
        h("td", { class: "num" }, range(r.lo_80, r.hi_80)),
        h("td", { class: "num" }, range(r.lo_95, r.hi_95))))));
    card.append(legend, chartEl, readout,
      h("div", { class: "forecast-grid" },
        h("div", {}, h("h3", {}, "How it was forecast"), factList),
        h("div", {}, h("h3", {}, `The next ${next.length} days`), next.length ? table : h("p", { class: "muted" }, "No forecast days."))));

    if (series.xs.length === 0) {
      setCardState(card, "forecast", "empty", "Nothing to draw: no sales history and no forecast for this item.");
      return;
    }
    this.showReadout(readout, series, null);
    if (typeof window.uPlot !== "function") {
      setCardState(card, "forecast", "error", "The chart library did not load; the figures are below.");
      return;
    }
    this.chart = makeChart(chartEl, series, (idx) => this.showReadout(readout, series, idx));
    if (window.ResizeObserver) {
      let last = chartEl.clientWidth;
      this.observer = new ResizeObserver(() => {
        const width = chartEl.clientWidth;
        if (this.chart && width && width !== last) {
          last = width;
          this.chart.setSize(chartSize(chartEl));
        }
      });
      this.observer.observe(chartEl);
    }
  }

  showReadout(el, s, idx) {
    // With no cursor on the chart: the first forecast day.
    const i = idx ?? s.firstForecast;
    if (i === null || i === undefined || i < 0) {
      el.textContent = "";
      return;
    }
    const day = formatDay(secondsToDay(s.xs[i]));
    const parts = [];
    if (s.actual[i] !== null) parts.push(`sold ${formatCount(s.actual[i])}`);
    if (s.censored[i] !== null) parts.push(`sold ${formatCount(s.censored[i])} before running out (censored)`);
    if (s.mean[i] !== null) {
      parts.push(`forecast ${formatUnits(s.mean[i])} (80% ${range(s.lo80[i], s.hi80[i])}, 95% ${range(s.lo95[i], s.hi95[i])})`);
    }
    const event = s.events.find((e) => e.i === i);
    if (event) parts.push(event.effect === null ? event.name : `${event.name}: ${effectText(event.effect)}`);
    el.textContent = `${day}: ${parts.length ? parts.join("; ") : "no data"}`;
  }

  destroyChart() {
    if (this.observer) this.observer.disconnect();
    this.observer = null;
    if (this.chart) this.chart.destroy();
    this.chart = null;
  }
}

// ---- helpers ---------------------------------------------------------------------------------

function storeOption(s) {
  const bits = [];
  if (s.at_risk) bits.push(`${formatCount(s.at_risk)} at risk`);
  if (s.proposed_orders) bits.push(`${formatCount(s.proposed_orders)} order${s.proposed_orders === 1 ? "" : "s"} proposed`);
  return bits.length ? `${s.name} (${bits.join(", ")})` : s.name;
}

function rank(p) {
  const i = STATUS_ORDER.indexOf(p.status);
  return i < 0 ? STATUS_ORDER.length : i;
}

/** The POS's level now, under the plan's, when a delivery or sales moved it since the plan. */
function nowNote(item) {
  const now = item.on_hand_now;
  if (now === null || now === undefined || now === item.on_hand) return null;
  return h("span", { class: "sub", "data-col": "on_hand_now", title: "on hand as the POS last reported it; the plan follows at its next run" },
    `now ${formatCount(now)}`);
}

function count0(n) {
  return n === null || n === undefined ? "—" : formatCount(n);
}

function weeks(w) {
  return w === null || w === undefined ? "no demand" : Number(w).toFixed(1);
}

/** A forecast adjustment in words: "Forecast +50% from 1 Dec to 14 Dec 2025" (as the locale
 * writes days); a factor of 0: "No demand expected …". */
function adjustmentText(a) {
  const factor = Number(a.factor);
  const change = factor === 0 ? "No demand expected"
    : factor === 1 ? "Forecast unchanged"
      : `Forecast ${factor > 1 ? "+" : "\u2212"}${Math.round(Math.abs(factor - 1) * 1000) / 10}%`;
  return `${change} ${daysText(a.starts_on, a.ends_on)}`;
}

/** "on 3 Dec 2025", "from 1 Dec to 14 Dec 2025", "from 28 Dec 2025 to 4 Jan 2026". */
function daysText(from, to) {
  if (from === to) return `on ${formatMediumDay(from)}`;
  const start = from.slice(0, 4) === to.slice(0, 4) ? formatShortDay(from) : formatMediumDay(from);
  return `from ${start} to ${formatMediumDay(to)}`;
}

/** Whether the plan was made with this very adjustment (its days, factor and reason). */
function sameAdjustment(a, b) {
  return Number(a.factor) === Number(b.factor) && a.starts_on === b.starts_on && a.ends_on === b.ends_on
    && a.reason === b.reason;
}

/** What an adjustment the plan used did to the demand it orders for. */
function plannedText(used) {
  const k = used.protection_effect;
  if (k === null || k === undefined) return "This plan was made with it.";
  if (Number(k) === 1) return "This plan was made with it; it does not touch the lead time and review period.";
  return `This plan's quantities follow it: the demand expected over the lead time and review period is ${Number(k).toFixed(2)}\u00d7 the forecast's.`;
}

function clearFieldErrors(form, out) {
  replaceChildren(out);
  for (const slot of form.querySelectorAll(".field-error")) replaceChildren(slot);
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

/** The server's word on each field it named, next to that field (its input marked invalid, the
 * first focused); anything else (not allowed, not found, no server) under the form. */
function showFieldErrors(form, out, err, prefix, fallback) {
  const errors = err instanceof ApiError && Array.isArray(err.problem.errors)
    ? err.problem.errors.filter((e) => e && e.field) : [];
  let first = null;
  let unplaced = errors.length === 0;
  for (const e of errors) {
    const input = form.querySelector(`[data-field="${CSS.escape(String(e.field).replace(/^body\./, ""))}"]`);
    const slot = input && form.querySelector(`#${CSS.escape(input.id)}-error`);
    if (!slot) {
      unplaced = true;
      continue;
    }
    input.setAttribute("aria-invalid", "true");
    replaceChildren(slot, h("span", { role: "alert" }, `${prefix}: ${e.message || err.message}`));
    first = first || input;
  }
  if (unplaced) replaceChildren(out, errorNotice(err, prefix));
  (first || fallback).focus();
}

/** A holiday's or event's learned effect on its day, as the order lines' reasons word it. */
function effectText(effect) {
  return `${Number(effect).toFixed(2)}\u00d7 a usual day`;
}

function range(lo, hi) {
  if (lo === null || lo === undefined || hi === null || hi === undefined) return "—";
  return `${formatUnits(lo)}\u2013${formatUnits(hi)}`;
}

function key(name, text) {
  return h("li", { dataset: { series: name } }, h("span", { class: `swatch key-${name}`, "aria-hidden": "true" }), text);
}

/** The chart's columns on one daily axis: the last weeks of actuals, then the forecast. */
function chartSeries(body) {
  const actuals = [...(body.actuals || [])].sort((a, b) => (a.day < b.day ? -1 : 1));
  const forecast = [...(body.forecast || [])].sort((a, b) => (a.day < b.day ? -1 : 1));
  const firstForecastDay = forecast.length ? forecast[0].day : null;
  const lastActual = actuals.length ? dayToSeconds(actuals[actuals.length - 1].day) : null;
  const from = lastActual === null ? null : lastActual - (HISTORY_DAYS - 1) * DAY;
  const shown = actuals.filter((a) => from === null || dayToSeconds(a.day) >= from);
  const days = [...shown.map((a) => a.day), ...forecast.map((r) => r.day)];
  const out = { xs: [], actual: [], censored: [], mean: [], lo80: [], hi80: [], lo95: [], hi95: [], events: [], firstForecast: null };
  if (days.length === 0) return out;
  const start = dayToSeconds(days.reduce((m, d) => (d < m ? d : m)));
  const end = dayToSeconds(days.reduce((m, d) => (d > m ? d : m)));
  for (let t = start; t <= end; t += DAY) out.xs.push(t);
  const at = new Map(out.xs.map((t, i) => [secondsToDay(t), i]));
  for (const name of ["actual", "censored", "mean", "lo80", "hi80", "lo95", "hi95"]) out[name] = out.xs.map(() => null);
  for (const a of shown) {
    const i = at.get(a.day);
    if (i === undefined) continue;
    if (a.censored) out.censored[i] = a.units;
    else out.actual[i] = a.units;
    if (a.event) out.events.push({ i, t: out.xs[i], name: a.event.name, effect: null });
  }
  for (const r of forecast) {
    const i = at.get(r.day);
    if (i === undefined) continue;
    out.mean[i] = r.mean;
    out.lo80[i] = r.lo_80;
    out.hi80[i] = r.hi_80;
    out.lo95[i] = r.lo_95;
    out.hi95[i] = r.hi_95;
    if (r.event) out.events.push({ i, t: out.xs[i], name: r.event.name, effect: r.event.effect });
  }
  out.firstForecast = firstForecastDay === null ? null : at.get(firstForecastDay);
  out.censoredDays = out.xs.filter((_t, i) => out.censored[i] !== null);
  return out;
}

function chartLabel(item, body, s) {
  const sold = s.actual.filter((v) => v !== null).length + s.censored.filter((v) => v !== null).length;
  const marked = s.events.map((e) => `${e.name} (${formatShortDay(secondsToDay(e.t))})`);
  return `Chart of ${item.name || body.sku}: ${sold} days of units sold, then a ${(body.forecast || []).length}-day `
    + "forecast with its 80% and 95% intervals"
    + (marked.length ? `; holidays and events marked: ${marked.join(", ")}` : "");
}

function chartSize(el) {
  const width = Math.max(280, el.clientWidth || el.parentElement.clientWidth - 36);
  return { width, height: width < 600 ? 220 : 280 };
}

function makeChart(el, s, onCursor) {
  const uPlot = window.uPlot;
  const hidden = { stroke: "transparent", width: 0, points: { show: false } };
  // Shade the days out of stock and mark where the forecast starts, under the series.
  const shade = (u) => {
    const c = u.ctx;
    c.save();
    c.fillStyle = COLORS.censoredDay;
    for (const t of s.censoredDays) {
      const x0 = u.valToPos(t - DAY / 2, "x", true);
      const x1 = u.valToPos(t + DAY / 2, "x", true);
      c.fillRect(x0, u.bbox.top, Math.max(1, x1 - x0), u.bbox.height);
    }
    // a holiday or event (past or ahead): its day tinted, a marker at the top
    for (const e of s.events) {
      const x0 = u.valToPos(e.t - DAY / 2, "x", true);
      const x1 = u.valToPos(e.t + DAY / 2, "x", true);
      c.fillStyle = COLORS.eventDay;
      c.fillRect(x0, u.bbox.top, Math.max(1, x1 - x0), u.bbox.height);
      const mid = (x0 + x1) / 2;
      c.fillStyle = COLORS.event;
      c.beginPath();
      c.moveTo(mid - 5, u.bbox.top);
      c.lineTo(mid + 5, u.bbox.top);
      c.lineTo(mid, u.bbox.top + 8);
      c.closePath();
      c.fill();
    }
    if (s.firstForecast !== null && s.firstForecast !== undefined && s.firstForecast > 0) {
      const x = Math.round(u.valToPos(s.xs[s.firstForecast] - DAY / 2, "x", true));
      c.strokeStyle = COLORS.today;
      c.setLineDash([4, 4]);
      c.beginPath();
      c.moveTo(x, u.bbox.top);
      c.lineTo(x, u.bbox.top + u.bbox.height);
      c.stroke();
    }
    c.restore();
  };
  const opts = {
    ...chartSize(el),
    // Store-local calendar days: shown as they are, without a time zone shift.
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
    legend: { show: false },
    cursor: { points: { size: 7 }, drag: { x: false, y: false } },
    scales: {
      x: { time: true, range: (u) => [u.data[0][0] - DAY / 2, u.data[0][u.data[0].length - 1] + DAY / 2] },
      y: { range: (_u, _min, max) => [0, max > 0 ? Math.ceil(max * 1.1) : 1] },
    },
    axes: [
      {
        stroke: "#5b6b7a",
        grid: { stroke: "#eef1f4" },
        incrs: [1, 2, 7, 14, 28].map((n) => n * DAY),
        values: (_u, ticks) => ticks.map((t) => formatShortDay(secondsToDay(t))),
        space: 64,
      },
      { stroke: "#5b6b7a", grid: { stroke: "#eef1f4" }, size: 48, values: (_u, ticks) => ticks.map((t) => formatUnits(t)) },
    ],
    series: [
      {},
      { label: "Units sold", stroke: COLORS.actual, width: 1.5, points: { show: true, size: 4, fill: COLORS.actual } },
      {
        label: "Out of stock", stroke: COLORS.censored, width: 0, paths: () => null,
        points: { show: true, size: 8, width: 2, stroke: COLORS.censored, fill: "#ffffff" },
      },
      { label: "95% high", ...hidden },
      { label: "95% low", ...hidden },
      { label: "80% high", ...hidden },
      { label: "80% low", ...hidden },
      { label: "Forecast mean", stroke: COLORS.mean, width: 2, dash: [6, 4], points: { show: false } },
    ],
    bands: [
      { series: [3, 4], fill: COLORS.band95 },
      { series: [5, 6], fill: COLORS.band80 },
    ],
    hooks: {
      drawClear: [shade],
      setCursor: [(u) => onCursor(u.cursor.idx)],
    },
  };
  const data = [s.xs, s.actual, s.censored, s.hi95, s.lo95, s.hi80, s.lo80, s.mean];
  return new uPlot(opts, data, el);
}

export default {
  path: "/replenishment",
  title: "Replenishment",
  permission: "inventory:read",
  render(root, ctx) {
    const view = new Replenishment(root, ctx);
    const done = view.mount();
    return done.then(() => () => view.stop());
  },
};

// How far a written purchase order has got on the POS (the plan route's `pos_order`).
function posOrder(order) {
  if (!order) return h("p", { class: "po-progress muted small" }, "Written to the POS; it has not reported the order back yet.");
  if (order.document) {
    return h("p", { class: "po-progress small", dataset: { status: "document" } },
      "Sent to the vendor as a document; its receipt shows as the stock it brings",
      order.expected_on ? ` · expected ${formatDay(order.expected_on)}` : "");
  }
  const received = order.status === "received"
    ? `all ${formatCount(order.ordered)} units received`
    : `${formatCount(order.received)} of ${formatCount(order.ordered)} units received`;
  return h("p", { class: "po-progress small", dataset: { status: order.status } },
    `On the POS: ${humanize(order.status)} (${order.reference}) · ${received}`,
    order.expected_on && order.status !== "received" ? ` · expected ${formatDay(order.expected_on)}` : "");
}
