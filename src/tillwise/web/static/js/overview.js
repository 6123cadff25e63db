// The overview page: sales per store per day, event counts, pipeline lag, dead letters,
// recent transactions with their reconciliation issues, and connections. Polls the API.

import { api, ApiError, AuthError, captureTokenFromUrl, forgetToken, getToken, NetworkError, setToken } from "./api.js";
import { $, h, replaceChildren, setCardState } from "./dom.js";
import {
  dayToSeconds, formatClock, formatCount, formatDateTime, formatDay, formatMoney,
  formatMediumDay, formatMoneyCompact, formatSeconds, formatShortDay, secondsToDay,
} from "./format.js";

const POLL_MS = 5000;
const PALETTE = [
  "#0f766e", "#2563eb", "#d97706", "#9333ea", "#dc2626",
  "#0891b2", "#65a30d", "#db2777", "#4b5563", "#7c3aed",
];
const code = (text) => h("code", {}, text);

const state = {
  timer: null,
  inFlight: null,
  lastCounts: null,
  sales: { rows: [], currency: null, days: 30 },
  chart: null,
  chartKey: "",
  chartDataKey: "",
  locationNames: new Map(),
  replays: new Map(), // dead letter id → {busy, error}
};

// ---- token and session ---------------------------------------------------------------------

function showTokenForm(reason, isError = false) {
  stopPolling();
  $("#dashboard").hidden = true;
  $("#sign-out").hidden = true;
  $("#banner").hidden = true;
  setLive("idle", "Not connected");
  const reasonEl = $("#token-reason");
  reasonEl.textContent = reason;
  reasonEl.classList.toggle("error-text", isError);
  $("#token-panel").hidden = false;
  $("#token-input").value = "";
  $("#token-input").focus();
}

function showDashboard() {
  $("#token-panel").hidden = true;
  $("#dashboard").hidden = false;
  $("#sign-out").hidden = false;
  startPolling();
}

function onUnauthorized(detail) {
  forgetToken();
  const sentence = /[.!?]$/.test(detail) ? detail : `${detail}.`;
  showTokenForm(`The API answered 401 Unauthorized: ${sentence} Paste a valid token.`, true);
}

function setLive(kind, text) {
  const el = $("#live");
  el.dataset.state = kind;
  el.textContent = text;
}

function setBanner(text) {
  const el = $("#banner");
  el.hidden = !text;
  el.textContent = text || "";
}

// ---- polling -------------------------------------------------------------------------------

function stopPolling() {
  clearTimeout(state.timer);
  state.timer = null;
}

function startPolling() {
  stopPolling();
  refresh();
}

function schedule() {
  clearTimeout(state.timer);
  state.timer = setTimeout(refresh, POLL_MS);
}

const SOURCES = {
  overview: "/v1/stats/overview",
  sales: "/v1/reports/daily-sales",
  dead: "/v1/dead-letters",
  tx: "/v1/transactions?limit=20&order=newest",
  conn: "/v1/connections",
};

async function refresh() {
  if (!getToken()) {
    showTokenForm("The dashboard reads the Tillwise API with a token.");
    return;
  }
  if (document.hidden) {
    schedule(); // paused while the tab is hidden; picked up again on visibilitychange
    return;
  }
  if (state.inFlight) return;
  if (state.chart === null) setLive("loading", "Loading…");
  const names = Object.keys(SOURCES);
  state.inFlight = Promise.allSettled(names.map((n) => api(SOURCES[n])));
  let results;
  try {
    results = await state.inFlight;
  } finally {
    state.inFlight = null;
  }
  const got = Object.fromEntries(names.map((n, i) => [n, results[i]]));
  const auth = results.find((r) => r.status === "rejected" && r.reason instanceof AuthError);
  if (auth) {
    onUnauthorized(auth.reason.message);
    return;
  }
  const offline = results.every((r) => r.status === "rejected" && r.reason instanceof NetworkError);
  if (offline) {
    setLive("error", "Offline");
    setBanner(`Can't reach the Tillwise server at ${window.location.host}: showing the last figures, retrying every ${POLL_MS / 1000} s…`);
    schedule();
    return;
  }
  setBanner("");

  // Connections and sales first: they name the stores the other cards refer to.
  renderPart("conn", got.conn, renderConnections);
  renderPart("sales", got.sales, renderSales);
  renderPart("events", got.overview, renderEvents);
  renderPart("lag", got.overview, renderLag);
  renderPart("dead", got.dead, renderDeadLetters);
  renderPart("tx", got.tx, renderTransactions);

  const failed = results.filter((r) => r.status === "rejected").length;
  if (failed) setLive("error", `Updated ${formatClock(new Date())} · ${failed} part(s) failed`);
  else setLive("ok", `Live · updated ${formatClock(new Date())}`);
  schedule();
}

function renderPart(name, result, render) {
  if (result.status === "fulfilled") {
    try {
      render(result.value);
    } catch (err) {
      console.error(err); // eslint-disable-line no-console
      setCardState(name, "error", `This part could not be shown: ${err.message}`);
    }
    return;
  }
  const err = result.reason;
  let text;
  if (err instanceof ApiError && err.status === 403) {
    text = `Your token may not see this: ${err.message}`;
  } else if (err instanceof ApiError) {
    text = `The API answered ${err.status}: ${err.message}`;
  } else if (err instanceof NetworkError) {
    text = `${err.message} Retrying…`;
  } else {
    text = String(err && err.message ? err.message : err);
  }
  setCardState(name, "error", text);
}

// ---- sales chart ---------------------------------------------------------------------------

function storeKey(row) {
  return `${row.connection_id}/${row.location_id}`;
}

function storeLabel(row) {
  return row.location_name || row.location_id;
}

function renderSales(body) {
  const rows = body.data || [];
  state.sales.rows = rows;
  for (const r of rows) {
    state.locationNames.set(storeKey(r), storeLabel(r));
  }
  drawSales();
}

function currenciesOf(rows) {
  const total = new Map();
  for (const r of rows) total.set(r.currency, (total.get(r.currency) || 0) + 1);
  return [...total.entries()].sort((a, b) => b[1] - a[1]).map(([c]) => c);
}

function drawSales() {
  const { rows } = state.sales;
  const chartEl = $("#sales-chart");
  const tbody = $("#sales-summary tbody");
  const select = $("#sales-currency");
  if (rows.length === 0) {
    setCardState(
      "sales", "empty",
      "No sales yet — start the simulator with ", code("tillwise simulate"),
      ", or point a POS webhook at one of the connections below.",
    );
    destroyChart();
    replaceChildren(tbody);
    $("#sales-summary").hidden = true;
    $("#sales-range").hidden = true;
    select.hidden = true;
    return;
  }
  setCardState("sales", "empty");
  $("#sales-summary").hidden = false;
  $("#sales-range").hidden = false;

  // One chart per currency: amounts in different currencies never share an axis.
  const currencies = currenciesOf(rows);
  if (!currencies.includes(state.sales.currency)) state.sales.currency = currencies[0];
  const currency = state.sales.currency;
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
  if (state.sales.days > 0) start = Math.max(start, end - (state.sales.days - 1) * 86400);
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
  if (state.chart && state.chartKey === key) {
    if (state.chartDataKey !== dataKey) state.chart.setData(data);
  } else {
    destroyChart();
    state.chart = makeChart(chartEl, currency, list.map(([, s]) => s), data);
    state.chartKey = key;
  }
  state.chartDataKey = dataKey;
}

function chartSize(el) {
  const width = Math.max(280, el.clientWidth || el.parentElement.clientWidth - 36);
  const height = width < 600 ? 220 : 280;
  return { width, height };
}

function makeChart(el, currency, stores, data) {
  if (typeof window.uPlot !== "function") {
    setCardState("sales", "error", "The chart library did not load; the table below has the figures.");
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

function destroyChart() {
  if (state.chart) state.chart.destroy();
  state.chart = null;
  state.chartKey = "";
  state.chartDataKey = "";
}

// ---- events and lag ------------------------------------------------------------------------

function renderEvents(body) {
  $("#events-total").textContent = formatCount(body.events_total);
  const list = $("#events-by-type");
  const entries = Object.entries(body.events_by_type || {}).sort((a, b) => b[1] - a[1]);
  if (entries.length === 0) {
    setCardState("events", "empty", "No events yet. They appear here as webhooks arrive.");
    replaceChildren(list);
    state.lastCounts = {};
    return;
  }
  setCardState("events", "empty");
  const max = entries[0][1] || 1;
  const before = state.lastCounts;
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
  state.lastCounts = body.events_by_type;
}

function renderLag(body) {
  const outbox = $("#outbox-age");
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
  const tbody = $("#lag-table tbody");
  if (consumers.length === 0) {
    setCardState("lag", "empty", "No consumers registered.");
    replaceChildren(tbody);
    return;
  }
  const waiting = consumers.reduce((n, c) => n + c.pending, 0);
  if (waiting === 0) setCardState("lag", "empty", "All caught up: nothing is waiting.");
  else setCardState("lag", "empty");
  replaceChildren(tbody, consumers.map((c) => h("tr", {},
    h("td", {}, c.consumer),
    h("td", { class: "muted" }, c.topic),
    h("td", { class: "num" }, h("span", {
      class: `pill ${c.pending === 0 ? "ok" : c.pending < 100 ? "warn" : "bad"}`,
    }, formatCount(c.pending))),
  )));
}

// ---- dead letters --------------------------------------------------------------------------

function renderDeadLetters(body) {
  const letters = body.data || [];
  const pill = $("#dead-count");
  pill.textContent = letters.length ? `${formatCount(letters.length)} parked` : "None";
  pill.className = `pill ${letters.length ? "bad" : "ok"}`;
  const list = $("#dead-list");
  if (letters.length === 0) {
    setCardState("dead", "empty", "No dead letters — every message was handled.");
    replaceChildren(list);
    return;
  }
  setCardState("dead", "empty");
  replaceChildren(list, letters.map((d) => {
    const replay = state.replays.get(d.id) || {};
    return h("li", { dataset: { id: d.id } },
      h("div", { class: "what" },
        h("strong", {}, `${d.consumer} · ${d.topic}`),
        h("span", { class: "err" }, d.error),
        h("span", { class: "muted small" },
          `${formatCount(d.attempts)} attempt(s) · failed ${formatDateTime(d.failed_at)} · message ${d.message_id}`),
        replay.error ? h("span", { class: "err", role: "alert" }, `Replay failed: ${replay.error}`) : null,
      ),
      h("button", {
        class: "btn btn-small", type: "button", disabled: Boolean(replay.busy),
        "aria-label": `Replay dead letter ${d.id}`,
        onclick: () => replayLetter(d.id),
      }, replay.busy ? "Replaying…" : "Replay"),
    );
  }));
}

async function replayLetter(id) {
  state.replays.set(id, { busy: true });
  const button = $(`#dead-list li[data-id="${id}"] button`);
  if (button) {
    button.disabled = true;
    button.textContent = "Replaying…";
  }
  try {
    await api(`/v1/dead-letters/${encodeURIComponent(id)}/replay`, { method: "POST" });
    state.replays.delete(id);
  } catch (err) {
    if (err instanceof AuthError) {
      onUnauthorized(err.message);
      return;
    }
    state.replays.set(id, { error: err.message });
  }
  try {
    renderDeadLetters(await api(SOURCES.dead));
  } catch (err) {
    if (err instanceof AuthError) onUnauthorized(err.message);
  }
}

// ---- transactions --------------------------------------------------------------------------

function renderIssue(issue) {
  return h("span", { class: "issue", dataset: { code: issue.code } },
    h("strong", {}, issue.code),
    issue.difference
      ? h("span", {}, `difference ${formatMoney(issue.difference.amount, issue.difference.currency, { signed: true })}`)
      : null,
    issue.detail ? h("span", { class: "detail" }, issue.detail) : null,
  );
}

function renderTransactions(body) {
  const txs = [...(body.data || [])].sort((a, b) => (a.occurred_at < b.occurred_at ? 1 : -1));
  const tbody = $("#tx-table tbody");
  const pill = $("#tx-issues");
  const flagged = txs.filter((t) => (t.issues || []).length > 0).length;
  pill.textContent = txs.length === 0 ? "–" : flagged ? `${flagged} with issues` : "All reconciled";
  pill.className = `pill ${txs.length === 0 ? "" : flagged ? "bad" : "ok"}`;
  $("#tx-table").hidden = txs.length === 0;
  if (txs.length === 0) {
    setCardState("tx", "empty", "No transactions yet — they appear as sales arrive from a POS or from ",
      code("tillwise simulate"), ".");
    replaceChildren(tbody);
    return;
  }
  setCardState("tx", "empty");
  replaceChildren(tbody, txs.map((t) => {
    const issues = t.issues || [];
    const store = state.locationNames.get(`${t.connection_id}/${t.location_id}`) || t.location_id || "—";
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

// ---- connections ---------------------------------------------------------------------------

function renderConnections(body) {
  const conns = body.data || [];
  const tbody = $("#conn-table tbody");
  $("#conn-table").hidden = conns.length === 0;
  if (conns.length === 0) {
    setCardState("conn", "empty", "No connections yet — add one with ",
      code("tillwise connections add"), ", or try everything at once with ", code("tillwise demo"), ".");
    replaceChildren(tbody);
    return;
  }
  setCardState("conn", "empty");
  replaceChildren(tbody, conns.map((c) => h("tr", { dataset: { id: c.id } },
    h("td", {}, c.name),
    h("td", {}, c.platform),
    h("td", {}, h("span", { class: `pill ${c.status === "active" ? "ok" : "warn"}` }, c.status)),
    h("td", {}, code(c.webhook_path)),
    h("td", { class: "nowrap" }, formatDateTime(c.created_at)),
  )));
}

// ---- wiring --------------------------------------------------------------------------------

function wire() {
  $("#token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("#token-input").value.trim();
    if (!value) return;
    setToken(value);
    $("#token-input").value = "";
    showDashboard();
  });
  $("#sign-out").addEventListener("click", () => {
    forgetToken();
    destroyChart();
    showTokenForm("Token forgotten for this tab. Paste one to open the dashboard again.");
  });
  for (const button of document.querySelectorAll("#sales-range button")) {
    button.addEventListener("click", () => {
      state.sales.days = Number(button.dataset.days);
      for (const b of document.querySelectorAll("#sales-range button")) {
        b.setAttribute("aria-pressed", String(b === button));
      }
      drawSales();
    });
  }
  $("#sales-currency").addEventListener("change", (event) => {
    state.sales.currency = event.target.value;
    drawSales();
  });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && getToken() && !$("#dashboard").hidden) startPolling();
  });
  const chartEl = $("#sales-chart");
  if (window.ResizeObserver) {
    let last = 0;
    new ResizeObserver(() => {
      const width = chartEl.clientWidth;
      if (state.chart && width && width !== last) {
        last = width;
        state.chart.setSize(chartSize(chartEl));
      }
    }).observe(chartEl);
  }
}

function main() {
  captureTokenFromUrl();
  wire();
  if (getToken()) showDashboard();
  else showTokenForm("The dashboard reads the Tillwise API with a token.");
}

main();
