// Vendors: a connection's vendors with the terms replenishment plans use — the POS's, with
// what the retailer told Tillwise over them (Shopify and Square know a vendor's name at most):
// lead time, order cycle, the e-mail purchase orders go to, the minimum order value, and per
// item the unit cost, case pack, MOQ and the vendor's own code. Everyone who reads the catalog
// (products:read) sees them — but the minimum order value and unit costs only with costs:read
// (an associate's are left out by the server, `costs_hidden`, and said to be); roles that
// may (replenishment:write: buyers, store managers, regional managers, admins) change them in
// place — `PATCH /v1/vendors/{connection}/{vendor}/terms`, only the fields changed are sent,
// audited by the server as vendor.terms_imported.
// Terms hold for every store of the connection, so the server refuses (403) a role over only
// some of them; that and every refused field is shown next to the form, the field marked.
//
// A value the retailer set in Tillwise over the POS's (the API's `set_in_tillwise`, per vendor
// and per item) is marked "set in Tillwise"; the others are the POS's. A writer may take such
// a value back ("Use the POS's lead time"): the field is sent as null (JSON merge patch), and
// plans use the POS's value again — except the name of a vendor the POS does not know.
//
// A vendor's items (hundreds are possible) stay folded until opened, and are drawn then.
//
// Routes: #/vendors (the first connection in scope), #/vendors/<connection>[?vendor=<id>]
// [?sku=<sku>&name=<vendor name>] (from the Replenishment page: the vendor an item is bought
// from, opened at that item).

import { api, ApiError, describe, query } from "../api.js";
import { busy, closable, code, costHidden, empty, errorNotice, h, notice, replaceChildren, select } from "../dom.js";
import { exponent, formatCount, formatMoney } from "../format.js";

const ITEM_FILTER_FROM = 12; // items of a vendor above which a "Find an item" box is offered
const connPath = (conn) => `#/vendors/${encodeURIComponent(conn)}`;

// The API's field names, as the forms label them.
const LABELS = {
  name: "Name",
  email: "E-mail for purchase orders",
  lead_time_days: "Lead time (days)",
  review_period_days: "Order cycle (days)",
  min_order_value: "Minimum order value",
  currency: "Currency",
  items: "Items",
  unit_cost: "Unit cost",
  case_pack: "Case pack",
  moq: "MOQ",
  vendor_sku: "Vendor SKU",
  connection_id: "Connection",
};

// The fields as a sentence names them: "Use the POS's lead time", "Lead time: back to …".
const NAMES = {
  name: "name",
  email: "e-mail for purchase orders",
  lead_time_days: "lead time",
  review_period_days: "order cycle",
  min_order_value: "minimum order value",
  unit_cost: "unit cost",
  case_pack: "case pack",
  moq: "MOQ",
  vendor_sku: "vendor SKU",
};

const STORES_NAMED = 3; // more stores than this are counted, not listed

/** " (A, B)" or " (31 stores: A, B, C, …)": which stores a connection's terms hold for. */
function storesText(stores) {
  if (!stores.length) return "";
  if (stores.length <= STORES_NAMED) return ` (${stores.join(", ")})`;
  return ` (${formatCount(stores.length)} stores: ${stores.slice(0, STORES_NAMED).join(", ")}, …)`;
}

let seq = 0;
const nextId = (prefix) => `${prefix}-${++seq}`;

class VendorsPage {
  constructor(root, ctx) {
    this.root = root;
    this.ctx = ctx;
    this.writer = ctx.can("replenishment:write");
    this.cards = [];
  }

  $(selector) {
    return this.root.querySelector(selector);
  }

  async mount() {
    replaceChildren(this.root, h("h1", {}, "Vendors"), h("p", { class: "muted" }, "Loading…"));
    let connections;
    try {
      connections = await this.connections();
    } catch (err) {
      if (err.name === "AbortError") return;
      replaceChildren(this.root, h("h1", {}, "Vendors"), errorNotice(err, "The stores could not be loaded"));
      return;
    }
    if (!this.ctx.isCurrent()) return;
    if (connections.length === 0) {
      replaceChildren(this.root, h("h1", {}, "Vendors"),
        empty("No stores in your scope", "Vendors are listed per POS connection of the stores you work with."));
      return;
    }
    const wanted = this.ctx.rest[0];
    const current = connections.find((c) => c.id === wanted) || connections[0];
    if (current.id !== wanted) {
      window.history.replaceState(window.history.state, "", connPath(current.id));
    }
    this.connection = current;
    this.skeleton(connections);
    await this.load();
  }

  /** The connections of the stores in scope (with their names where the role may read them). */
  async connections() {
    const stores = await this.ctx.stores();
    const byId = new Map();
    for (const s of stores) {
      if (!byId.has(s.connection_id)) byId.set(s.connection_id, { id: s.connection_id, name: null, stores: [] });
      byId.get(s.connection_id).stores.push(s.name || s.location_id);
    }
    if (this.ctx.can("connections:read")) {
      try {
        const body = await api("/v1/connections", { signal: this.ctx.signal });
        for (const c of body.data) {
          if (!byId.has(c.id)) byId.set(c.id, { id: c.id, name: null, stores: [] });
          byId.get(c.id).name = c.name;
        }
      } catch (err) {
        if (err.name === "AbortError") throw err;
        // the stores' connections are enough
      }
    }
    return [...byId.values()].sort((a, b) => label(a).localeCompare(label(b)));
  }

  skeleton(connections) {
    const conn = this.connection;
    const picker = connections.length > 1
      ? select(connections.map((c) => [c.id, label(c)]), conn.id, {
        id: "vendors-connection",
        onchange: (event) => this.ctx.navigate(connPath(event.target.value)),
      })
      : null;
    const find = h("input", {
      type: "search", id: "vendors-find", autocomplete: "off", spellcheck: "false", autocapitalize: "off",
      placeholder: "Vendor name, id or SKU", value: this.ctx.query.get("q") || "",
    });
    find.addEventListener("input", () => this.filter());
    replaceChildren(this.root,
      h("div", { class: "page-head" },
        h("div", {},
          h("h1", {}, "Vendors"),
          h("p", { class: "muted small", id: "vendors-meta" }, "Loading the vendors…")),
        h("form", { class: "filters", role: "search", "aria-label": "Find vendors", onsubmit: (e) => e.preventDefault() },
          picker ? labelled("Connection", picker) : null,
          labelled("Find", find)),
      ),
      h("p", { class: "muted small vendors-help", id: "vendors-help" },
        "The terms replenishment plans use: what the POS says, with what is set here (or imported) over it ",
        "(marked ", setHereTag(), "; the other values are the POS's). ",
        "They hold for every store of ", h("strong", {}, label(conn)),
        storesText(conn.stores), ". ",
        this.writer ? "Each change is audited. " : "",
        "For many vendors or items at once, import a CSV: ",
        code(`tillwise vendors import FILE --connection ${conn.id}`),
        " (", code(`tillwise vendors export --connection ${conn.id} --output FILE`),
        " writes the current terms as a file to start from)."),
      h("div", { class: "card-state", id: "vendors-state", "data-for": "vendors", role: "status" }),
      h("div", { class: "vendor-list", id: "vendors-list" }),
    );
  }

  async load() {
    let vendors;
    try {
      vendors = await api(`/v1/vendors${query({ connection_id: this.connection.id })}`, { signal: this.ctx.signal });
    } catch (err) {
      if (err.name === "AbortError") return;
      this.$("#vendors-meta").textContent = "";
      this.state("error", `The vendors could not be loaded: ${describe(err)}`);
      return;
    }
    if (!this.ctx.isCurrent()) return;
    if (vendors.length === 0) {
      this.$("#vendors-meta").textContent = "No vendors yet.";
      replaceChildren(this.$("#vendors-list"), empty("No vendors for this connection yet",
        "They arrive from the POS, or are imported with ",
        code(`tillwise vendors import FILE --connection ${this.connection.id}`), "."));
      return;
    }
    this.cards = vendors.map((v) => new VendorCard(this, v));
    replaceChildren(this.$("#vendors-list"), this.cards.map((c) => c.el));
    this.filter();
    this.openFromQuery();
  }

  state(kind, text) {
    const el = this.$("#vendors-state");
    el.classList.toggle("error", kind === "error");
    el.setAttribute("role", kind === "error" ? "alert" : "status");
    el.textContent = text || "";
  }

  /** Show the vendors matching the search (by name, id, e-mail, SKU or vendor SKU). */
  filter() {
    const q = this.$("#vendors-find").value.trim().toLowerCase();
    let shown = 0;
    for (const card of this.cards) {
      const match = card.matches(q);
      card.el.hidden = !match;
      if (match) shown += 1;
      card.setItemQuery(match === "item" ? q : "");
    }
    const items = this.cards.reduce((n, c) => n + c.vendor.items.length, 0);
    this.$("#vendors-meta").textContent = `${formatCount(this.cards.length)} vendor(s), ${formatCount(items)} item(s)`
      + (q ? ` · ${formatCount(shown)} shown` : "");
    this.state("empty", q && shown === 0 ? `No vendor or SKU matches “${q}”.` : "");
  }

  /** #/vendors/<conn>?vendor=<id>, or ?sku=<sku>&name=<vendor name>: open that vendor (at that item). */
  openFromQuery() {
    const id = this.ctx.query.get("vendor");
    const sku = this.ctx.query.get("sku");
    const name = this.ctx.query.get("name");
    if (!id && !sku && !name) return;
    const has = (c) => sku && c.vendor.items.some((i) => i.sku === sku);
    const card = (id && this.cards.find((c) => c.vendor.vendor_id === id))
      || this.cards.find((c) => has(c) && (!name || c.vendor.name === name))
      || this.cards.find(has)
      || (name && this.cards.find((c) => c.vendor.name === name));
    if (!card) {
      this.state("empty", sku ? `No vendor lists SKU ${sku} here.` : "That vendor is not among this connection's.");
      return;
    }
    card.el.hidden = false;
    card.reveal(sku);
  }
}

class VendorCard {
  constructor(page, vendor) {
    this.page = page;
    this.ctx = page.ctx;
    this.writer = page.writer;
    this.vendor = vendor;
    this.prefix = nextId("vendor");
    this.itemQuery = "";
    this.el = h("article", {
      class: "card vendor", id: this.prefix, dataset: { vendor: vendor.vendor_id }, "aria-labelledby": `${this.prefix}-title`,
    });
    this.draw();
  }

  get name() {
    return this.vendor.name || this.vendor.vendor_id;
  }

  /** false, true (by the vendor) or "item" (by one of its SKUs). */
  matches(q) {
    if (!q) return true;
    const v = this.vendor;
    if ([v.name, v.vendor_id, v.email].some((t) => t && t.toLowerCase().includes(q))) return true;
    return v.items.some((i) => itemMatches(i, q)) ? "item" : false;
  }

  draw(message = null) {
    const v = this.vendor;
    const p = this.prefix;
    this.status = h("div", { class: "vendor-status", id: `${p}-status` }, message);
    this.change = this.writer ? h("button", {
      class: "btn btn-small", type: "button", dataset: { action: "change-terms" },
      "aria-label": `Change terms of ${this.name}`, "aria-expanded": "false", "aria-controls": `${p}-form`,
      onclick: () => this.openForm(),
    }, "Change terms") : null;
    this.form = this.writer ? this.termsForm() : null;
    this.details = this.itemsPart();
    replaceChildren(this.el,
      h("header", { class: "vendor-head" },
        h("div", {},
          h("h2", { id: `${p}-title`, tabindex: -1 }, this.name),
          setHere(v, "name") ? h("span", { class: "vendor-name-source" }, setHereTag("name")) : null,
          h("span", { class: "sub" }, `Vendor ${v.vendor_id}`)),
        this.change),
      this.status,
      terms(v),
      this.form,
      this.details);
  }

  // ---- the vendor's terms ---------------------------------------------------------------

  termsForm() {
    const v = this.vendor;
    const p = `${this.prefix}-form`;
    const money = splitMoney(v.min_order_value);
    this.inputs = {
      lead_time_days: h("input", {
        type: "number", min: 0, max: 365, step: 1, inputmode: "numeric", value: numText(v.lead_time_days),
        "data-field": "lead_time_days",
      }),
      review_period_days: "review_period_days" in v ? h("input", {
        type: "number", min: 1, max: 90, step: 1, inputmode: "numeric", value: numText(v.review_period_days),
        "data-field": "review_period_days",
      }) : null,
      email: h("input", {
        type: "email", maxlength: 320, autocomplete: "off", spellcheck: "false", value: v.email || "", "data-field": "email",
      }),
      min_order_value: h("input", {
        type: "text", inputmode: "decimal", autocomplete: "off", value: money.amount, "data-field": "min_order_value",
      }),
      currency: currencyInput(money.currency),
    };
    const errId = `${p}-error`;
    const save = h("button", { class: "btn btn-primary btn-small", type: "submit" }, "Save terms");
    const cancel = h("button", { class: "btn btn-small", type: "button" }, "Cancel");
    const out = h("div", { class: "action-error", id: errId });
    const i = this.inputs;
    // "Use the POS's …" for each term set here (not the name of a vendor only Tillwise knows)
    const back = (field) => (setHere(v, field) && (field !== "name" || v.pos_knows)
      ? this.takeBackButton(field, { [field]: null }, out, () => this.form)
      : null);
    const withBack = (field, el) => {
      const button = back(field);
      if (button) el.append(button);
      return el;
    };
    const nameBack = back("name");
    const anyBack = VENDOR_FIELDS.some((f) => setHere(v, f) && (f !== "name" || v.pos_knows));
    const form = h("form", {
      class: "vendor-form", id: p, hidden: true, novalidate: true, "aria-label": `Terms of ${this.name}`,
    },
      nameBack ? h("p", { class: "take-back-row" }, "The name ", h("strong", {}, this.name), " is ",
        setHereTag(), ". ", nameBack) : null,
      h("div", { class: "form-grid" },
        withBack("lead_time_days",
          labelled(LABELS.lead_time_days, i.lead_time_days, "From ordering to receiving, 0 to 365.", errId)),
        i.review_period_days ? withBack("review_period_days", labelled(LABELS.review_period_days,
          i.review_period_days, "How often you order from them: every 1 to 90 days.", errId)) : null,
        withBack("email", labelled(LABELS.email, i.email, "Where purchase orders go.", errId)),
        withBack("min_order_value",
          labelled(LABELS.min_order_value, i.min_order_value, "Orders below it are held.", errId)),
        labelled(LABELS.currency, i.currency, "Of the minimum order value, e.g. GBP.", errId)),
      h("p", { class: "field-hint" }, "Only what you change is sent; a field left blank keeps its value.",
        anyBack ? " “Use the POS's …” takes a value set here back: plans use the POS's again." : ""),
      h("div", { class: "action-row" }, save, cancel),
      out);
    // closing puts the terms back as they are (the form is drawn afresh)
    const close = () => {
      this.redraw();
      this.focusChange();
    };
    closable(form, cancel, close);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.saveTerms(save, out);
    });
    return form;
  }

  openForm() {
    this.form.hidden = false;
    this.change.hidden = true;
    this.change.setAttribute("aria-expanded", "true");
    replaceChildren(this.status);
    if (!this.inputs.currency.value) this.inputs.currency.value = this.currencyGuess();
    this.inputs.lead_time_days.focus();
  }

  /** Draw the vendor again (after a save, or to drop an open form), its items as they were. */
  redraw(message = null) {
    const open = this.details.open;
    this.draw(message);
    if (open) this.openItems();
  }

  focusChange() {
    const button = this.el.querySelector("[data-action='change-terms']");
    (button || this.el.querySelector(`#${this.prefix}-title`)).focus();
  }

  /** The currency of the vendor's money, or of the other vendors' (for a first price). */
  currencyGuess() {
    const mine = [this.vendor.min_order_value, ...this.vendor.items.map((i) => i.unit_cost)];
    const all = mine.concat(...this.page.cards.map((c) => [c.vendor.min_order_value, ...c.vendor.items.map((i) => i.unit_cost)]));
    const found = all.find(Boolean);
    return found ? splitMoney(found).currency : "";
  }

  async saveTerms(button, out) {
    const v = this.vendor;
    const i = this.inputs;
    clearInvalid(this.form, out);
    const body = {};
    const changes = [];
    const bad = [];
    for (const name of ["lead_time_days", "review_period_days"]) {
      const input = i[name];
      if (!input) continue;
      if (input.validity.badInput) {
        bad.push([name, "is not a whole number"]);
        continue;
      }
      const text = input.value.trim();
      if (text !== "" && text !== numText(v[name])) {
        body[name] = Number(text);
        changes.push(`${LABELS[name].replace(" (days)", "").toLowerCase()} ${text} day${text === "1" ? "" : "s"}`);
      }
    }
    const email = i.email.value.trim();
    if (email && email !== (v.email || "")) {
      body.email = email;
      changes.push(`e-mail ${email}`);
    }
    const money = splitMoney(v.min_order_value);
    const amount = i.min_order_value.value.trim();
    const currency = i.currency.value.trim().toUpperCase();
    if (amount && (amount !== money.amount || currency !== money.currency)) {
      body.min_order_value = amount;
      if (currency) body.currency = currency;
      changes.push(`minimum order ${amount}${currency ? ` ${currency}` : ""}`);
    }
    if (bad.length) {
      showInvalid(this.form, out, bad.map(([f, m]) => ({ field: f, message: m })));
      return;
    }
    if (changes.length === 0) {
      replaceChildren(out, notice("info", "Nothing changed: no term differs from what plans use now."));
      return;
    }
    await this.send(body, button, out, this.form, `Saved: ${changes.join(", ")}.`);
  }

  /**
   * A button taking `field` back to the POS's value: PATCHes `body` (the field as null). `form`
   * gives the form it sits in (for errors); `after` puts the focus back after a success.
   */
  takeBackButton(field, body, out, form, after = null, of = "") {
    const what = NAMES[field];
    const button = h("button", {
      class: "btn btn-small btn-take-back", type: "button", dataset: { takeBack: field },
      "aria-label": `Use the POS's ${what}${of}`,
    }, `Use the POS's ${what}`);
    const said = `${what.charAt(0).toUpperCase()}${what.slice(1)}${of}: back to the POS's value.`;
    button.addEventListener("click", async () => {
      clearInvalid(form(), out);
      await this.send(body, button, out, form(), said, after);
      // refused: the button stays (it was disabled while saving, which drops the focus)
      if (button.isConnected && (!document.activeElement || document.activeElement === document.body)) {
        button.focus();
      }
    });
    return button;
  }

  /** PATCH the terms; on success redraw with what the server now uses, else show why not. */
  async send(body, button, out, form, saidOk, after = null) {
    const v = this.vendor;
    let updated;
    try {
      updated = await busy(button, "Saving…", () => api(
        `/v1/vendors/${encodeURIComponent(v.connection_id)}/${encodeURIComponent(v.vendor_id)}/terms`,
        { method: "PATCH", body },
      ));
    } catch (err) {
      if (err.name === "AbortError") return;
      showError(form, out, err);
      return;
    }
    if (!this.ctx.isCurrent()) return;
    this.vendor = updated;
    this.redraw(notice("ok", saidOk));
    if (after) after();
    else this.focusChange();
  }

  // ---- its items ------------------------------------------------------------------------

  itemsPart() {
    const items = this.vendor.items;
    const p = this.prefix;
    const details = h("details", { class: "vendor-items", id: `${p}-items` },
      h("summary", {}, items.length
        ? `${formatCount(items.length)} item${items.length === 1 ? "" : "s"}: ${this.vendor.costs_hidden ? "" : "unit cost, "}case pack, MOQ`
        : "No items listed"));
    this.drawn = false;
    details.addEventListener("toggle", () => {
      if (details.open) this.drawItems();
    });
    return details;
  }

  openItems() {
    this.details.open = true;
    this.drawItems();
  }

  setItemQuery(q) {
    this.itemQuery = q;
    if (q) this.openItems();
    if (this.drawn) this.applyItemFilter();
  }

  /** Draw the items table once, when the items are first opened. */
  drawItems() {
    if (this.drawn) return;
    this.drawn = true;
    const items = this.vendor.items;
    if (items.length === 0) {
      this.details.append(h("p", { class: "muted small" }, "The POS lists no items of this vendor, and none were imported."));
      return;
    }
    const p = this.prefix;
    this.itemFind = items.length > ITEM_FILTER_FROM ? h("input", {
      type: "search", id: `${p}-find`, autocomplete: "off", spellcheck: "false", autocapitalize: "off",
      value: this.itemQuery, placeholder: "SKU or vendor SKU",
    }) : null;
    this.itemCount = h("span", { class: "muted small", role: "status" });
    if (this.itemFind) {
      this.itemFind.addEventListener("input", () => {
        this.itemQuery = this.itemFind.value.trim().toLowerCase();
        this.applyItemFilter();
      });
    }
    this.tbody = h("tbody", {}, items.map((item) => this.itemRow(item)));
    if (this.itemFind) {
      this.details.append(h("div", { class: "items-tools" },
        labelled(`Find an item of ${this.name}`, this.itemFind), this.itemCount));
    }
    this.details.append(
      h("div", { class: "scroll-x" }, h("table", { class: "table compact vendor-items-table" },
        h("caption", { class: "visually-hidden" }, `Items of ${this.name} and their terms`),
        h("thead", {}, h("tr", {},
          h("th", { scope: "col" }, "SKU"),
          this.vendor.costs_hidden ? null : h("th", { scope: "col", class: "num" }, "Unit cost"),
          h("th", { scope: "col", class: "num" }, "Case pack"),
          h("th", { scope: "col", class: "num" }, "MOQ"),
          this.writer ? h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Change")) : null)),
        this.tbody)));
    this.applyItemFilter();
  }

  applyItemFilter() {
    const q = this.itemQuery;
    if (this.itemFind && this.itemFind.value.trim().toLowerCase() !== q) this.itemFind.value = q;
    let shown = 0;
    for (const row of this.tbody.querySelectorAll("tr[data-sku]")) {
      const item = this.vendor.items.find((i) => i.sku === row.dataset.sku);
      const match = !q || (item && itemMatches(item, q));
      row.hidden = !match;
      const extra = row.nextElementSibling;
      if (extra && extra.classList.contains("item-edit")) extra.hidden = !match;
      if (match) shown += 1;
    }
    if (this.itemCount) {
      this.itemCount.textContent = q ? `${formatCount(shown)} of ${formatCount(this.vendor.items.length)} shown` : "";
    }
  }

  itemRow(item) {
    const cell = (field, text) => h("td", { class: "num", "data-col": field, title: sourceTitle(item, field) },
      text, setHere(item, field) ? [" ", setHereTag(NAMES[field])] : null);
    const row = h("tr", { dataset: { sku: item.sku } },
      h("th", { scope: "row" }, item.sku, item.vendor_sku
        ? h("span", { class: "sub", title: sourceTitle(item, "vendor_sku") }, `Vendor SKU ${item.vendor_sku}`,
          setHere(item, "vendor_sku") ? [" ", setHereTag("vendor SKU")] : null)
        : null),
      this.vendor.costs_hidden ? null : cell("unit_cost", moneyText(item.unit_cost)),
      cell("case_pack", numOrDash(item.case_pack)),
      cell("moq", numOrDash(item.moq)),
      this.writer ? h("td", { class: "num" }, h("button", {
        class: "btn btn-small", type: "button", dataset: { action: "change-item" },
        "aria-label": `Change terms of SKU ${item.sku}`, "aria-expanded": "false",
        onclick: (event) => this.openItemForm(item, row, event.currentTarget),
      }, "Change")) : null);
    return row;
  }

  /** Reveal the vendor: open its items (at `sku`, found and marked) and bring it into view. */
  reveal(sku) {
    if (sku) {
      this.openItems();
      const row = this.tbody && this.tbody.querySelector(`tr[data-sku="${CSS.escape(sku)}"]`);
      if (row) {
        row.classList.add("current");
        row.scrollIntoView({ block: "center" });
        const button = row.querySelector("button");
        if (button) button.focus();
        return;
      }
    }
    this.el.scrollIntoView({ block: "start" });
    this.el.querySelector(`#${this.prefix}-title`).focus();
  }

  openItemForm(item, row, opener) {
    const p = nextId("item");
    const money = splitMoney(item.unit_cost);
    const sku = item.sku;
    const inputs = {
      unit_cost: h("input", {
        type: "text", inputmode: "decimal", autocomplete: "off", value: money.amount, "data-field": "unit_cost",
      }),
      currency: currencyInput(money.currency || this.currencyGuess()),
      case_pack: h("input", {
        type: "number", min: 1, step: 1, inputmode: "numeric", value: numText(item.case_pack), "data-field": "case_pack",
      }),
      moq: h("input", {
        type: "number", min: 0, step: 1, inputmode: "numeric", value: numText(item.moq), "data-field": "moq",
      }),
    };
    const errId = `${p}-error`;
    const out = h("div", { class: "action-error", id: errId });
    const save = h("button", { class: "btn btn-primary btn-small", type: "submit" }, "Save");
    const cancel = h("button", { class: "btn btn-small", type: "button" }, "Cancel");
    const ofSku = h("span", { class: "visually-hidden" }, ` of ${sku}`);
    const focusRow = () => {
      const button = this.tbody && this.tbody.querySelector(`tr[data-sku="${CSS.escape(sku)}"] button`);
      if (button) button.focus();
    };
    let form = null;
    // "Use the POS's case pack" for each of the item's terms set here
    const back = (field) => (setHere(item, field)
      ? this.takeBackButton(field, { items: [{ sku, [field]: null }] }, out, () => form, focusRow, ` of ${sku}`)
      : null);
    const withBack = (field, el) => {
      const button = back(field);
      if (button) el.append(button);
      return el;
    };
    const skuBack = back("vendor_sku");
    form = h("form", { class: "item-form", id: p, novalidate: true, "aria-label": `Terms of SKU ${sku}` },
      withBack("unit_cost", labelledNode([LABELS.unit_cost, ofSku.cloneNode(true)], inputs.unit_cost, null, errId)),
      labelledNode([LABELS.currency, ofSku.cloneNode(true)], inputs.currency, null, errId),
      withBack("case_pack", labelledNode([LABELS.case_pack, ofSku.cloneNode(true)], inputs.case_pack, null, errId)),
      withBack("moq", labelledNode([LABELS.moq, ofSku.cloneNode(true)], inputs.moq, null, errId)),
      skuBack ? h("div", { class: "field take-back-field" },
        h("span", { class: "field-label" }, `Vendor SKU ${item.vendor_sku}`, " ", setHereTag()), skuBack) : null,
      h("div", { class: "item-form-buttons" }, save, cancel),
      out);
    const extra = h("tr", { class: "item-edit", dataset: { for: sku } },
      h("td", { colspan: this.writer ? 5 : 4 }, form));
    const close = () => {
      extra.remove();
      opener.hidden = false;
      opener.setAttribute("aria-expanded", "false");
      opener.focus();
    };
    closable(form, cancel, close);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearInvalid(form, out);
      const change = { sku };
      const said = [];
      const bad = [];
      for (const name of ["case_pack", "moq"]) {
        const input = inputs[name];
        if (input.validity.badInput) {
          bad.push({ field: `items.0.${name}`, message: "is not a whole number" });
          continue;
        }
        const text = input.value.trim();
        if (text !== "" && text !== numText(item[name])) {
          change[name] = Number(text);
          said.push(`${LABELS[name].toLowerCase()} ${text}`);
        }
      }
      const body = { items: [change] };
      const amount = inputs.unit_cost.value.trim();
      const currency = inputs.currency.value.trim().toUpperCase();
      if (amount && (amount !== money.amount || currency !== money.currency)) {
        change.unit_cost = amount;
        if (currency) body.currency = currency;
        said.push(`unit cost ${amount}${currency ? ` ${currency}` : ""}`);
      }
      if (bad.length) {
        showInvalid(form, out, bad);
        return;
      }
      if (said.length === 0) {
        replaceChildren(out, notice("info", `Nothing changed for ${sku}.`));
        return;
      }
      await this.send(body, save, out, form, `Saved for ${sku}: ${said.join(", ")}.`, focusRow);
    });
    row.after(extra);
    opener.hidden = true;
    opener.setAttribute("aria-expanded", "true");
    inputs.unit_cost.focus();
  }
}

// ---- helpers ---------------------------------------------------------------------------------

function label(conn) {
  return conn.name ? `${conn.name} (${conn.id})` : conn.id;
}

function itemMatches(item, q) {
  return item.sku.toLowerCase().includes(q) || (item.vendor_sku || "").toLowerCase().includes(q);
}

/** The vendor's terms as a definition list, each value marked with its field (data-term). */
function terms(v) {
  const rows = [
    ["lead_time_days", "Lead time", v.lead_time_days === null ? null : days(v.lead_time_days)],
    "review_period_days" in v
      ? ["review_period_days", "Order cycle", v.review_period_days === null ? null : `every ${days(v.review_period_days)}`]
      : null,
    ["email", "E-mail for purchase orders", v.email],
    ["min_order_value", "Minimum order", v.costs_hidden ? costHidden() : moneyText(v.min_order_value, null)],
  ].filter(Boolean);
  return h("dl", { class: "facts vendor-terms" }, rows.map(([key, term, value]) => h("div", { dataset: { term: key } },
    h("dt", {}, term),
    h("dd", { title: key === "min_order_value" && v.costs_hidden ? "Your role does not see costs" : sourceTitle(v, key) },
      value === null || value === undefined ? h("span", { class: "muted" }, "not set") : value,
      setHere(v, key) ? [" ", setHereTag(NAMES[key])] : null))));
}

const VENDOR_FIELDS = ["name", "email", "lead_time_days", "review_period_days", "min_order_value"];

/** Whether the retailer set `field` of a vendor or item in Tillwise, over the POS's value. */
function setHere(thing, field) {
  return Array.isArray(thing.set_in_tillwise) && thing.set_in_tillwise.includes(field);
}

/** Where a value comes from, as a hint (title) on it. */
function sourceTitle(thing, field) {
  if (setHere(thing, field)) return "Set in Tillwise, over the POS's value";
  const value = thing[field];
  return value === null || value === undefined || value === "" ? "Neither the POS nor Tillwise gives it" : "From the POS";
}

/** The "set in Tillwise" marker (its hint naming the field, when given). */
function setHereTag(what = null) {
  return h("span", {
    class: "pill info set-here", title: what ? `The ${what} was set in Tillwise, over the POS's value` : null,
  }, "set in Tillwise");
}

function currencyInput(value) {
  return h("input", {
    type: "text", maxlength: 3, size: 4, autocomplete: "off", spellcheck: "false", autocapitalize: "characters",
    value, "data-field": "currency",
  });
}

function days(n) {
  return `${formatCount(n)} day${n === 1 ? "" : "s"}`;
}

function numText(n) {
  return n === null || n === undefined ? "" : String(n);
}

function numOrDash(n) {
  return n === null || n === undefined ? "—" : formatCount(n);
}

/** "250.00 GBP" → { amount: "250.00", currency: "GBP" }; null → blanks. */
function splitMoney(text) {
  if (!text) return { amount: "", currency: "" };
  const [amount, currency = ""] = String(text).trim().split(/\s+/, 2);
  return { amount, currency };
}

/** "250.00 GBP" → "£250.00" (exactly, through minor units); as given when it can't be. */
function moneyText(text, none = "—") {
  if (!text) return none;
  const { amount, currency } = splitMoney(text);
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(amount);
  const exp = exponent(currency);
  if (!m || !currency || (m[3] || "").length > exp) return text;
  const minor = Number(`${m[2]}${(m[3] || "").padEnd(exp, "0")}`) * (m[1] ? -1 : 1);
  return Number.isSafeInteger(minor) ? formatMoney(minor, currency) : text;
}

/** A label over its control, with a hint; the control is described by the hint and the errors. */
function labelled(text, control, hint = null, errorId = null) {
  return labelledNode([text], control, hint, errorId);
}

function labelledNode(parts, control, hint, errorId) {
  const id = control.id || nextId("f");
  control.id = id;
  const hintEl = hint ? h("span", { class: "field-hint", id: `${id}-hint` }, hint) : null;
  const described = [hintEl ? hintEl.id : null, errorId].filter(Boolean).join(" ");
  if (described) control.setAttribute("aria-describedby", described);
  return h("div", { class: "field" }, h("label", { class: "field-label", for: id }, ...parts), control, hintEl);
}

/** The API field ("lead_time_days", "items.0.case_pack", "body.currency") → the form's input. */
function inputFor(form, field) {
  if (!field) return null;
  const name = String(field).replace(/^body\./, "").split(".").pop();
  return form.querySelector(`[data-field="${CSS.escape(name)}"]`);
}

function fieldLabel(field) {
  const name = String(field).replace(/^body\./, "");
  const parts = name.split(".");
  const last = parts[parts.length - 1];
  return LABELS[last] || name;
}

function clearInvalid(form, out) {
  replaceChildren(out);
  form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
}

/** Field errors: each named ("Lead time (days): …"), its input marked invalid, the first focused. */
function showInvalid(form, out, errors, prefix = "Not saved") {
  const marked = [];
  const said = (e) => [h("strong", {}, fieldLabel(e.field)), `: ${e.message} `,
    h("span", { class: "field-name" }, "(field ", code(e.field), ")")];
  for (const e of errors) {
    const input = inputFor(form, e.field);
    if (input) {
      input.setAttribute("aria-invalid", "true");
      marked.push(input);
    }
  }
  const box = errors.length === 1
    ? notice("error", `${prefix}. `, said(errors[0]))
    : notice("error", `${prefix}:`, h("ul", {}, errors.map((e) => h("li", {}, said(e)))));
  box.dataset.fields = errors.map((e) => e.field).join(" ");
  replaceChildren(out, box);
  if (marked.length) marked[0].focus();
}

function showError(form, out, err) {
  const errors = err instanceof ApiError && err.status === 422 && Array.isArray(err.problem.errors)
    ? err.problem.errors.filter((e) => e && e.field)
    : [];
  if (errors.length) {
    showInvalid(form, out, errors.map((e) => ({ field: e.field, message: e.message || err.message })));
    return;
  }
  replaceChildren(out, errorNotice(err, "Not saved"));
  const input = err instanceof ApiError ? inputFor(form, err.field) : null;
  if (input) {
    input.setAttribute("aria-invalid", "true");
    input.focus();
  }
}

export default {
  path: "/vendors",
  title: "Vendors",
  permission: "products:read",
  nav: false, // reached from the Replenishment page (its "Vendor terms" link and Vendor column)
  async render(root, ctx) {
    const page = new VendorsPage(root, ctx);
    await page.mount();
  },
};
