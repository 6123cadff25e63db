// Overview across stores: proposals waiting for approval, sales per store per day, event
// counts, pipeline lag, dead letters, recent transactions with their reconciliation issues,
// and connections. Each card is drawn only for a role that may read its source (a store-scoped
// role has no pipeline statistics); the page polls while it is shown.

import { api, ApiError, AuthError, describe, NetworkError, query } from "../api.js";
import { code, h, replaceChildren, setCardState } from "../dom.js";
import {
  dayToSeconds, formatClock, formatCount, formatDateTime, formatDay, formatMediumDay,
  formatMoney, formatMoneyCompact, formatSeconds, formatShortDay, formatValue, humanize,
  secondsToDay,
} from "../format.js";

const POLL_MS = 5000;
const PALETTE = [
  "#0f766e", "#2563eb", "#d97706", "#9333ea", "#dc2626",
  "#0891b2", "#65a30d", "#db2777", "#4b5563", "#7c3aed",
];

// Each source: the permission it needs and the request. Cards are drawn from these.
const SOURCES = {
  counts: ["proposals:read", "/v1/proposals/counts"],
  pending: ["proposals:read", `/v1/proposals${query({ status: "pending", limit: 5 })}`],
  overview: ["stats:read", "/v1/stats/overview"],
  sales: ["reports:read", "/v1/reports/daily-sales"],
  dead: ["deadletters:read", "/v1/dead-letters"],
  tx: ["transactions:read", "/v1/transactions?limit=20&order=newest"],
  conn: ["connections:read", "/v1/connections"],
};

function card(id, title, { wide = false, head = [], body = [], state } = {}) {
  return h("section", { class: `card${wide ? " card-wide" : ""}`, id, "aria-labelledby": `${id}-title` },
    h("div", { class: "card-head" }, h("h2", { id: `${id}-title` }, title), ...head),
    h("div", { class: "card-state", "data-for": state }),
    ...body,
  );
}

function table(id, caption, headings, attrs = {}) {
  return h("table", { class: `table ${attrs.compact ? "compact" : ""}`.trim(), id },
    h("caption", { class: "visually-hidden" }, caption),
    h("thead", {}, h("tr", {}, headings.map(([text, num]) => h("th", { scope: "col", class: num ? "num" : null }, text)))),
    h("tbody"),
  );
}

function skeleton(ctx) {
  const statsToo = ctx.can("stats:read");
  const cards = [];
  if (ctx.can("reports:read")) {
    cards.push(card("sales-card", "Sales per store per day", {
      wide: true,
      state: "sales",
      head: [h("div", { class: "controls" },
        h("label", { class: "visually-hidden", for: "sales-currency" }, "Currency"),
        h("select", { id: "sales-currency", hidden: true }),
        h("div", { class: "seg", role: "group", "aria-label": "Days shown", id: "sales-range" },
          [[7, "7 d"], [30, "30 d"], [90, "90 d"], [0, "All"]].map(([days, text]) => h("button", {
            type: "button", "data-days": days, "aria-pressed": String(days === 30),
          }, text))),
      )],
      body: [
        h("div", { id: "sales-chart", class: "chart", role: "img", "aria-label": "Line chart of daily sales per store" }),
        table("sales-summary", "Sales per store in the days shown",
          [["Store"], ["Sales", 1], ["Amount", 1], ["Refunds", 1], ["Latest day", 1]], { compact: true }),
      ],
    }));
  }
  if (ctx.can("proposals:read")) {
    cards.push(card("approvals-card", "Waiting for approval", {
      wide: !statsToo,
      state: "approvals",
      head: [h("a", { class: "big", id: "pending-total", href: "#/approvals", "aria-label": "Proposals waiting" }, "–")],
      body: [h("ul", { class: "list", id: "pending-list" }), h("p", { class: "muted small", id: "status-counts" })],
    }));
  }
  if (statsToo) {
    cards.push(card("events-card", "Events", {
      state: "events",
      head: [h("span", { class: "big", id: "events-total", "aria-label": "Events in total" }, "–")],
      body: [h("ul", { class: "bars", id: "events-by-type" })],
    }));
    cards.push(card("lag-card", "Pipeline lag", {
      state: "lag",
      head: [h("span", { class: "pill", id: "outbox-age" }, "–")],
      body: [table("lag-table", "Messages waiting per consumer",
        [["Consumer"], ["Topic"], ["Pending", 1]], { compact: true })],
    }));
  }
  if (ctx.can("deadletters:read")) {
    cards.push(card("dead-card", "Dead letters", {
      state: "dead",
      head: [h("span", { class: "pill", id: "dead-count" }, "–")],
      body: [h("ul", { class: "list", id: "dead-list" })],
    }));
  }
  if (ctx.can("transactions:read")) {
    cards.push(card("tx-card", "Transactions", {
      wide: true,
      state: "tx",
      head: [h("span", { class: "pill", id: "tx-issues" }, "–")],
      body: [h("div", { class: "scroll-x" }, table("tx-table",
        "The latest transactions and their reconciliation issues",
        [["When"], ["Transaction"], ["Store"], ["Items", 1], ["Total", 1], ["Reconciliation"]]))],
    }));
  }
  if (ctx.can("connections:read")) {
    cards.push(card("conn-card", "Connections", {
      wide: true,
      state: "conn",
      body: [h("div", { class: "scroll-x" }, table("conn-table", "POS connections and their webhook paths",
        [["Name"], ["Platform"], ["Status"], ["Webhook path"], ["Created"]]))],
    }));
  }
  return cards;
}

class Overview {
  constructor(root, ctx) {
    this.root = root;
    this.ctx = ctx;
    this.timer = null;
    this.inFlight = false;
    this.stopped = false;
    this.lastCounts = null;
    this.sales = { rows: [], currency: null, days: 30 };
    this.chart = null;
    this.chartKey = "";
    this.chartDataKey = "";
    this.locationNames = new Map();
    this.replays = new Map(); // dead letter id → {busy, error}
    this.observer = null;
    this.onVisible = () => {
      if (!document.hidden) this.refresh();
    };
  }

  $(selector) {
    return this.root.querySelector(selector);
  }

  setLive(kind, text) {
    const el = this.$("#live");
    el.dataset.state = kind;
    el.textContent = text;
  }

  mount() {
    const cards = skeleton(this.ctx);
    replaceChildren(this.root,
      h("div", { class: "page-head overview-head" },
        h("h1", {}, "Overview"),
        h("span", { id: "live", class: "live", role: "status", "aria-live": "polite", dataset: { state: "idle" } }, "Connecting…")),
      cards.length
        ? h("div", { id: "dashboard", class: "grid" }, cards)
        : h("p", {}, "Nothing on the overview is open to your role."));
    this.wire();
    document.addEventListener("visibilitychange", this.onVisible);
    this.refresh();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    document.removeEventListener("visibilitychange", this.onVisible);
    if (this.observer) this.observer.disconnect();
    this.destroyChart();
  }

  wire() {
    for (const button of this.root.querySelectorAll("#sales-range button")) {
      button.addEventListener("click", () => {
        this.sales.days = Number(button.dataset.days);
        for (const b of this.root.querySelectorAll("#sales-range button")) {
          b.setAttribute("aria-pressed", String(b === button));
        }
        this.drawSales();
      });
    }
    const select = this.$("#sales-currency");
    if (select) {
      select.addEventListener("change", (event) => {
        this.sales.currency = event.target.value;
        this.drawSales();
      });
    }
    const chartEl = this.$("#sales-chart");
    if (chartEl && window.ResizeObserver) {
      let last = 0;
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

  schedule() {
    clearTimeout(this.timer);
    if (!this.stopped) this.timer = setTimeout(() => this.refresh(), POLL_MS);
  }

  async refresh() {
    if (this.stopped || this.inFlight) return;
    if (document.hidden) {
      this.schedule(); // paused while the tab is hidden; picked up again on visibilitychange
      return;
    }
    const names = Object.keys(SOURCES).filter((n) => this.ctx.can(SOURCES[n][0]));
    if (names.length === 0) return;
    if (this.chart === null) this.setLive("loading", "Loading…");
    this.inFlight = true;
    let results;
    try {
      results = await Promise.allSettled(names.map((n) => api(SOURCES[n][1], { signal: this.ctx.signal })));
    } finally {
      this.inFlight = false;
    }
    if (this.stopped) return;
    if (results.some((r) => r.status === "rejected" && r.reason instanceof AuthError)) return;
    const got = Object.fromEntries(names.map((n, i) => [n, results[i]]));
    const offline = results.every((r) => r.status === "rejected" && r.reason instanceof NetworkError);
    if (offline) {
      this.setLive("error", `Offline · retrying every ${POLL_MS / 1000} s`);
      this.schedule();
      return;
    }
    await this.ctx.stores().catch(() => []);

    // Connections and sales first: they name the stores the other cards refer to.
    this.part("conn", got.conn, (b) => this.renderConnections(b));
    this.part("sales", got.sales, (b) => this.renderSales(b));
    if (got.counts) this.part("approvals", got.counts, (b) => this.renderCounts(b, got.pending));
    this.part("events", got.overview, (b) => this.renderEvents(b));
    this.part("lag", got.overview, (b) => this.renderLag(b));
    this.part("dead", got.dead, (b) => this.renderDeadLetters(b));
    this.part("tx", got.tx, (b) => this.renderTransactions(b));

    const failed = results.filter((r) => r.status === "rejected").length;
    if (failed) this.setLive("error", `Updated ${formatClock(new Date())} · ${failed} part(s) failed`);
    else this.setLive("ok", `Live · updated ${formatClock(new Date())}`);
    this.schedule();
  }

  part(name, result, render) {
    if (!result) return;
    if (result.status === "fulfilled") {
      try {
        render(result.value);
      } catch (err) {
        console.error(err); // eslint-disable-line no-console
        setCardState(this.root, name, "error", `This part could not be shown: ${err.message}`);
      }
      return;
    }
    const err = result.reason;
    let text;
    if (err instanceof ApiError && err.status === 403) {
      text = `Your role may not see this part (${err.message}).`;
    } else if (err instanceof NetworkError) {
      text = `${err.message} Retrying…`;
    } else {
      text = describe(err);
    }
    setCardState(this.root, name, "error", text);
  }

  // ---- approvals -------------------------------------------------------------------------

  renderCounts(counts, pendingResult) {
    const pending = counts.pending || 0;
    const total = this.$("#pending-total");
    total.textContent = formatCount(pending);
    const others = Object.entries(counts)
      .filter(([status, n]) => status !== "pending" && n > 0)
      .sort((a, b) => b[1] - a[1])
      .map(([status, n]) => `${formatCount(n)} ${status}`);
    this.$("#status-counts").textContent = others.length ? `Also: ${others.join(" · ")}` : "";
    const list = this.$("#pending-list");
    const items = pendingResult && pendingResult.status === "fulfilled" ? pendingResult.value.data : [];
    if (pending === 0) {
      setCardState(this.root, "approvals", "empty", "No proposals waiting.");
      replaceChildren(list);
      return;
    }
    setCardState(this.root, "approvals", "empty");
    replaceChildren(list, items.map((p) => h("li", { class: "proposal-line", dataset: { id: p.id } },
      h("div", { class: "what" },
        h("a", { href: `#/approvals/${encodeURIComponent(p.id)}` }, p.summary),
        h("span", { class: "muted small" },
          `${humanize(p.kind)} · ${this.ctx.storeName(p.store)} · ${formatDateTime(p.created_at)}`),
      ),
      h("span", { class: "num nowrap" }, p.value ? formatValue(p.value) : ""),
    )), pending > items.length
      ? h("li", {}, h("a", { href: "#/approvals" }, `All ${formatCount(pending)} waiting →`))
      : null);
  }

  // ---- sales chart -----------------------------------------------------------------------

  renderSales(body) {
    const rows = body.data || [];
    this.sales.rows = rows;
    for (const r of rows) this.locationNames.set(storeKey(r), storeLabel(r));
    this.drawSales();
  }

  drawSales() {
    const { rows } = this.sales;
    const chartEl = this.$("#sales-chart");
    const tbody = this.$("#sales-summary tbody");
    const select = this.$("#sales-currency");
    if (rows.length === 0) {
      setCardState(this.root, "sales", "empty",
        "No sales yet — start the simulator with ", code("tillwise simulate"),
        ", or point a POS webhook at a connection.");
      this.destroyChart();
      replaceChildren(tbody);
      this.$("#sales-summary").hidden = true;
      this.$("#sales-range").hidden = true;
      select.hidden = true;
      return;
    }
    setCardState(this.root, "sales", "empty");
    this.$("#sales-summary").hidden = false;
    this.$("#sales-range").hidden = false;

    // One chart per currency: amounts in different currencies never share an axis.
    const currencies = currenciesOf(rows);
    if (!currencies.includes(this.sales.currency)) this.sales.currency = currencies[0];
    const currency = this.sales.currency;
    select.hidden = currencies.length < 2;
    if (select.dataset.options !== currencies.join(",")) {
      replaceChildren(select, currencies.map((c) => h("option", { value: c }, c)));
      select.dataset.options = currencies.join(",");
    }
    select.value = currency;

    const mine = rows.filter((r) => r.currency === currency);
    const lastDay = mine.reduce((m, r) => (r.day > m ? r.day : m), mine[0].day);
    const firstDay = mine.reduce((m, r) => (r.day < m ? r.day : m), mine[0].day);
    const end = dayToSeconds(lastDay);
    let start = dayToSeconds(firstDay);
    if (this.sales.days > 0) start = Math.max(start, end - (this.sales.days - 1) * 86400);
    const xs = [];
    for (let t = start; t <= end; t += 86400) xs.push(t);
    const index = new Map(xs.map((t, i) => [secondsToDay(t), i]));

    const stores = new Map(); // key → {label, amounts[], count, amount, refunds, refundsAmount, last}
    for (const r of mine) {
      const key = storeKey(r);
      if (!stores.has(key)) {
        stores.set(key, {
          label: storeLabel(r), amounts: xs.map(() => 0), count: 0, amount: 0,
          refunds: 0, refundsAmount: 0, last: null,
        });
      }
      const s = stores.get(key);
      const i = index.get(r.day);
      if (i === undefined) continue;
      s.amounts[i] += r.sales_amount;
      s.count += r.sales_count;
      s.amount += r.sales_amount;
      s.refunds += r.refunds_count;
      s.refundsAmount += r.refunds_amount;
      if (!s.last || r.day > s.last) s.last = r.day;
    }
    const list = [...stores.entries()].sort((a, b) => a[1].label.localeCompare(b[1].label));
    list.forEach(([, s], i) => { s.color = PALETTE[i % PALETTE.length]; });

    replaceChildren(tbody, list.map(([key, s]) => h("tr", { dataset: { store: key } },
      h("td", {}, h("span", { class: "swatch", "data-color": s.color }), s.label),
      h("td", { class: "num" }, formatCount(s.count)),
      h("td", { class: "num" }, formatMoney(s.amount, currency)),
      h("td", { class: "num" }, s.refunds
        ? `${formatCount(s.refunds)} · ${formatMoney(s.refundsAmount, currency)}` : "—"),
      h("td", { class: "num" }, s.last ? formatMediumDay(s.last) : "—"),
    )));
    // Colours go in through the CSSOM (the page's CSP allows no inline style attributes).
    for (const sw of tbody.querySelectorAll(".swatch")) sw.style.background = sw.dataset.color;

    chartEl.setAttribute(
      "aria-label",
      `Line chart of daily sales in ${currency} for ${list.map(([, s]) => s.label).join(", ")}`,
    );
    const data = [xs, ...list.map(([, s]) => s.amounts)];
    const key = `${currency}|${list.map(([k, s]) => `${k}=${s.label}`).join("|")}`;
    const dataKey = JSON.stringify(data);
    if (this.chart && this.chartKey === key) {
      if (this.chartDataKey !== dataKey) this.chart.setData(data);
    } else {
      this.destroyChart();
      this.chart = this.makeChart(chartEl, currency, list.map(([, s]) => s), data);
      this.chartKey = key;
    }
    this.chartDataKey = dataKey;
  }

  makeChart(el, currency, stores, data) {
    if (typeof window.uPlot !== "function") {
      setCardState(this.root, "sales", "error", "The chart library did not load; the table below has the figures.");
      return null;
    }
    const uPlot = window.uPlot;
    const opts = {
      ...chartSize(el),
      // The days are the stores' local calendar days: show them as they are, without a shift.
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      cursor: { points: { size: 8 }, drag: { x: false, y: false } },
      legend: { live: true },
      scales: {
        // At least a week wide, so one or two days of data do not stretch into hours or years.
        // (Taken from the data: uPlot widens a single point to 1000 days before asking.)
        x: { time: true, range: (u) => dayRange(u.data[0][0], u.data[0][u.data[0].length - 1]) },
        y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.08 : 1] },
      },
      axes: [
        {
          stroke: "#5b6b7a",
          grid: { stroke: "#eef1f4" },
          incrs: DAY_INCRS,
          values: (_u, ticks) => dayTicks(ticks),
          space: 64,
        },
        {
          stroke: "#5b6b7a",
          grid: { stroke: "#eef1f4" },
          size: 70,
          values: (_u, ticks) => ticks.map((t) => formatMoneyCompact(t, currency)),
        },
      ],
      series: [
        // With no cursor on the chart, the legend shows the latest day rather than blanks.
        { label: "Day", value: (u, t) => dayLegend(u, t) },
        ...stores.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 2,
          points: { show: data[0].length <= 45, size: 6, fill: s.color },
          value: (u, v, si) => moneyLegend(u, v, si, currency),
        })),
      ],
    };
    return new uPlot(opts, data, el);
  }

  destroyChart() {
    if (this.chart) this.chart.destroy();
    this.chart = null;
    this.chartKey = "";
    this.chartDataKey = "";
  }

  // ---- events and lag --------------------------------------------------------------------

  renderEvents(body) {
    this.$("#events-total").textContent = formatCount(body.events_total);
    const list = this.$("#events-by-type");
    const entries = Object.entries(body.events_by_type || {}).sort((a, b) => b[1] - a[1]);
    if (entries.length === 0) {
      setCardState(this.root, "events", "empty", "No events yet. They appear here as webhooks arrive.");
      replaceChildren(list);
      this.lastCounts = {};
      return;
    }
    setCardState(this.root, "events", "empty");
    const max = entries[0][1] || 1;
    const before = this.lastCounts;
    replaceChildren(list, entries.map(([type, count]) => {
      const delta = before && before[type] !== undefined ? count - before[type] : 0;
      const fill = h("span", { class: "fill", "data-pct": Math.max(2, Math.round((100 * count) / max)) });
      return h("li", { dataset: { type } },
        h("span", { class: "name" }, type),
        h("span", {},
          h("span", { class: "count" }, formatCount(count)),
          delta > 0 ? h("span", { class: "delta", title: "since the last refresh" }, `+${formatCount(delta)}`) : null,
        ),
        h("span", { class: "track", "aria-hidden": "true" }, fill),
      );
    }));
    for (const f of list.querySelectorAll(".fill")) f.style.width = `${f.dataset.pct}%`;
    this.lastCounts = body.events_by_type;
  }

  renderLag(body) {
    const outbox = this.$("#outbox-age");
    const age = body.outbox_oldest_seconds;
    if (age === null || age === undefined) {
      outbox.textContent = "Outbox empty";
      outbox.className = "pill ok";
      outbox.title = "Every delivery and event has been handed to the bus";
    } else {
      outbox.textContent = `Outbox ${formatSeconds(age)} behind`;
      outbox.className = `pill ${age < 10 ? "ok" : age < 120 ? "warn" : "bad"}`;
      outbox.title = "Age of the oldest delivery or event not yet on the bus";
    }
    const consumers = body.consumers || [];
    const tbody = this.$("#lag-table tbody");
    if (consumers.length === 0) {
      setCardState(this.root, "lag", "empty", "No consumers registered.");
      replaceChildren(tbody);
      return;
    }
    const waiting = consumers.reduce((n, c) => n + c.pending, 0);
    if (waiting === 0) setCardState(this.root, "lag", "empty", "All caught up: nothing is waiting.");
    else setCardState(this.root, "lag", "empty");
    replaceChildren(tbody, consumers.map((c) => h("tr", {},
      h("td", {}, c.consumer),
      h("td", { class: "muted" }, c.topic),
      h("td", { class: "num" }, h("span", {
        class: `pill ${c.pending === 0 ? "ok" : c.pending < 100 ? "warn" : "bad"}`,
      }, formatCount(c.pending))),
    )));
  }

  // ---- dead letters ----------------------------------------------------------------------

  renderDeadLetters(body) {
    const letters = body.data || [];
    const pill = this.$("#dead-count");
    pill.textContent = letters.length ? `${formatCount(letters.length)} parked` : "None";
    pill.className = `pill ${letters.length ? "bad" : "ok"}`;
    const list = this.$("#dead-list");
    if (letters.length === 0) {
      setCardState(this.root, "dead", "empty", "No dead letters — every message was handled.");
      replaceChildren(list);
      return;
    }
    setCardState(this.root, "dead", "empty");
    const mayReplay = this.ctx.can("deadletters:replay");
    replaceChildren(list, letters.map((d) => {
      const replay = this.replays.get(d.id) || {};
      return h("li", { dataset: { id: d.id } },
        h("div", { class: "what" },
          h("strong", {}, `${d.consumer} · ${d.topic}`),
          h("span", { class: "err" }, d.error),
          h("span", { class: "muted small" },
            `${formatCount(d.attempts)} attempt(s) · failed ${formatDateTime(d.failed_at)} · message ${d.message_id}`),
          replay.error ? h("span", { class: "err", role: "alert" }, `Replay failed: ${replay.error}`) : null,
        ),
        mayReplay ? h("button", {
          class: "btn btn-small", type: "button", disabled: Boolean(replay.busy),
          "aria-label": `Replay dead letter ${d.id}`,
          onclick: () => this.replayLetter(d.id),
        }, replay.busy ? "Replaying…" : "Replay") : null,
      );
    }));
  }

  async replayLetter(id) {
    this.replays.set(id, { busy: true });
    const button = this.root.querySelector(`#dead-list li[data-id="${id}"] button`);
    if (button) {
      button.disabled = true;
      button.textContent = "Replaying…";
    }
    try {
      await api(`/v1/dead-letters/${encodeURIComponent(id)}/replay`, { method: "POST" });
      this.replays.delete(id);
    } catch (err) {
      if (err instanceof AuthError) return;
      this.replays.set(id, { error: describe(err) });
    }
    try {
      this.renderDeadLetters(await api(SOURCES.dead[1]));
    } catch {
      /* the next poll shows it */
    }
  }

  // ---- transactions ----------------------------------------------------------------------

  renderTransactions(body) {
    const txs = [...(body.data || [])].sort((a, b) => (a.occurred_at < b.occurred_at ? 1 : -1));
    const tbody = this.$("#tx-table tbody");
    const pill = this.$("#tx-issues");
    const flagged = txs.filter((t) => (t.issues || []).length > 0).length;
    pill.textContent = txs.length === 0 ? "–" : flagged ? `${flagged} with issues` : "All reconciled";
    pill.className = `pill ${txs.length === 0 ? "" : flagged ? "bad" : "ok"}`;
    this.$("#tx-table").hidden = txs.length === 0;
    if (txs.length === 0) {
      setCardState(this.root, "tx", "empty", "No transactions yet — they appear as sales arrive from a POS or from ",
        code("tillwise simulate"), ".");
      replaceChildren(tbody);
      return;
    }
    setCardState(this.root, "tx", "empty");
    replaceChildren(tbody, txs.map((t) => {
      const issues = t.issues || [];
      const store = this.locationNames.get(`${t.connection_id}/${t.location_id}`)
        || this.ctx.storeName(t.location_id ? `${t.connection_id}:${t.location_id}` : null);
      return h("tr", { class: issues.length ? "has-issue" : null, dataset: { id: t.id } },
        h("td", { class: "nowrap", title: t.occurred_at }, formatDateTime(t.occurred_at)),
        h("td", {}, t.external_id, h("span", { class: "sub" }, t.status || "")),
        h("td", {}, store),
        h("td", { class: "num" }, formatCount((t.lines || []).length)),
        h("td", { class: "num nowrap" }, formatMoney(t.total.amount, t.total.currency)),
        h("td", {}, issues.length
          ? issues.map(renderIssue)
          : h("span", { class: "clean" }, "✓ Reconciled")),
      );
    }));
  }

  // ---- connections -----------------------------------------------------------------------

  renderConnections(body) {
    const conns = body.data || [];
    const tbody = this.$("#conn-table tbody");
    this.$("#conn-table").hidden = conns.length === 0;
    if (conns.length === 0) {
      setCardState(this.root, "conn", "empty", "No connections yet — add one on the ",
        h("a", { href: "#/connections" }, "Connections"), " page, or try everything at once with ",
        code("tillwise demo"), ".");
      replaceChildren(tbody);
      return;
    }
    setCardState(this.root, "conn", "empty");
    replaceChildren(tbody, conns.map((c) => h("tr", { dataset: { id: c.id } },
      h("td", {}, c.name),
      h("td", {}, c.platform),
      h("td", {}, h("span", { class: `pill ${c.status === "active" ? "ok" : "warn"}` }, c.status)),
      h("td", {}, code(c.webhook_path)),
      h("td", { class: "nowrap" }, formatDateTime(c.created_at)),
    )));
  }
}

// ---- chart helpers ---------------------------------------------------------------------

function storeKey(row) {
  return `${row.connection_id}/${row.location_id}`;
}

function storeLabel(row) {
  return row.location_name || row.location_id;
}

function currenciesOf(rows) {
  const total = new Map();
  for (const r of rows) total.set(r.currency, (total.get(r.currency) || 0) + 1);
  return [...total.entries()].sort((a, b) => b[1] - a[1]).map(([c]) => c);
}

function chartSize(el) {
  const width = Math.max(280, el.clientWidth || el.parentElement.clientWidth - 36);
  const height = width < 600 ? 220 : 280;
  return { width, height };
}

const DAY = 86400;
const DAY_INCRS = [1, 2, 3, 7, 14, 28, 56, 91, 182, 364, 728].map((n) => n * DAY);

function dayRange(min, max) {
  const span = Math.max(0, max - min);
  const pad = span < 6 * DAY ? (6 * DAY - span) / 2 : DAY / 2;
  return [min - pad, max + pad];
}

/** Tick labels "15 Jan", with the year under the first tick and wherever it changes. */
function dayTicks(ticks) {
  let year = null;
  return ticks.map((t) => {
    const day = secondsToDay(t);
    const y = day.slice(0, 4);
    const label = y === year ? formatShortDay(day) : `${formatShortDay(day)}\n${y}`;
    year = y;
    return label;
  });
}

function dayLegend(u, t) {
  const xs = u.data[0];
  const at = t ?? (u.cursor.idx == null ? xs[xs.length - 1] : null);
  return at == null ? "–" : formatDay(secondsToDay(at));
}

function moneyLegend(u, v, si, currency) {
  const ys = u.data[si];
  const at = v ?? (u.cursor.idx == null ? ys[ys.length - 1] : null);
  return at == null ? "–" : formatMoney(at, currency);
}

function renderIssue(issue) {
  return h("span", { class: "issue", dataset: { code: issue.code } },
    h("strong", {}, issue.code),
    issue.difference
      ? h("span", {}, `difference ${formatMoney(issue.difference.amount, issue.difference.currency, { signed: true })}`)
      : null,
    issue.detail ? h("span", { class: "detail" }, issue.detail) : null,
  );
}

export default {
  path: "/overview",
  title: "Overview",
  permission: ["proposals:read", "reports:read", "stats:read", "transactions:read", "connections:read"],
  render(root, ctx) {
    const view = new Overview(root, ctx);
    view.mount();
    return () => view.stop();
  },
};
