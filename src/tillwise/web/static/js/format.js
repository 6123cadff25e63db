// Formatting: money from integer minor units (never via a float), numbers, days and times.

// ISO 4217 minor-unit exponents that differ from 2 (the same table as tillwise.domain.money).
const EXPONENTS = {
  BIF: 0, CLP: 0, DJF: 0, GNF: 0, ISK: 0, JPY: 0, KMF: 0, KRW: 0, PYG: 0, RWF: 0,
  UGX: 0, UYI: 0, VND: 0, VUV: 0, XAF: 0, XOF: 0, XPF: 0,
  BHD: 3, IQD: 3, JOD: 3, KWD: 3, LYD: 3, OMR: 3, TND: 3,
  CLF: 4, UYW: 4,
};

export function exponent(currency) {
  const code = String(currency || "").toUpperCase();
  return code in EXPONENTS ? EXPONENTS[code] : 2;
}

/** 4987, 2 → "49.87"; -5, 2 → "-0.05"; 1500, 0 → "1500"; exact, as a decimal string. */
export function minorToDecimal(minor, exp) {
  const big = BigInt(minor);
  const neg = big < 0n;
  let digits = (neg ? -big : big).toString();
  if (exp > 0) {
    digits = digits.padStart(exp + 1, "0");
    digits = `${digits.slice(0, -exp)}.${digits.slice(-exp)}`;
  }
  return (neg ? "-" : "") + digits;
}

const cache = new Map();
function moneyFormat(currency, exp, signed, compact) {
  const key = `${currency}|${exp}|${signed}|${compact}`;
  let nf = cache.get(key);
  if (!nf) {
    const opts = compact
      ? { style: "currency", currency, notation: "compact", maximumFractionDigits: 1 }
      : { style: "currency", currency, minimumFractionDigits: exp, maximumFractionDigits: exp };
    if (signed) opts.signDisplay = "exceptZero";
    nf = new Intl.NumberFormat(undefined, opts);
    cache.set(key, nf);
  }
  return nf;
}

/** Format integer minor units of an ISO 4217 currency, e.g. (4987, "USD") → "$49.87". */
export function formatMoney(minor, currency, { signed = false } = {}) {
  const exp = exponent(currency);
  if (!Number.isSafeInteger(minor)) return `${minor} ${currency} (minor units)`;
  const decimal = minorToDecimal(minor, exp);
  try {
    return moneyFormat(currency, exp, signed, false).format(decimal);
  } catch {
    const sign = signed && !decimal.startsWith("-") && decimal !== "0" ? "+" : "";
    return `${sign}${decimal} ${currency}`;
  }
}

/** A short label for chart axes: (123456, "GBP") → "£1.2K". Display only. */
export function formatMoneyCompact(minor, currency) {
  const major = Number(minor) / 10 ** exponent(currency);
  try {
    return moneyFormat(currency, 0, false, true).format(major);
  } catch {
    return `${major} ${currency}`;
  }
}

const intFormat = new Intl.NumberFormat();
export function formatCount(n) {
  return intFormat.format(n);
}

const dayFormat = new Intl.DateTimeFormat(undefined, {
  weekday: "short", day: "numeric", month: "short", year: "numeric", timeZone: "UTC",
});
const shortDayFormat = new Intl.DateTimeFormat(undefined, {
  day: "numeric", month: "short", timeZone: "UTC",
});
const mediumDayFormat = new Intl.DateTimeFormat(undefined, {
  day: "numeric", month: "short", year: "numeric", timeZone: "UTC",
});

/** "2010-12-01" → seconds since the epoch at that calendar day's UTC midnight. */
export function dayToSeconds(day) {
  return Date.parse(`${day}T00:00:00Z`) / 1000;
}
export function secondsToDay(seconds) {
  return new Date(seconds * 1000).toISOString().slice(0, 10);
}

/** A store's local calendar day (no time zone shift): "2010-12-01" → "Wed, 1 Dec 2010". */
export function formatDay(day) {
  return dayFormat.format(new Date(`${day}T00:00:00Z`));
}
export function formatShortDay(day) {
  return shortDayFormat.format(new Date(`${day}T00:00:00Z`));
}
export function formatMediumDay(day) {
  return mediumDayFormat.format(new Date(`${day}T00:00:00Z`));
}

const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
export function formatDateTime(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : timeFormat.format(d);
}

const clockFormat = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });
export function formatClock(date) {
  return clockFormat.format(date);
}

export function formatSeconds(s) {
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

// ---- words -----------------------------------------------------------------------------------

/** "stock_adjustment" → "Stock adjustment"; "proposal.auto_approved" stays as it is. */
export function humanize(name) {
  const text = String(name ?? "").replace(/_/g, " ").trim();
  return text ? text[0].toUpperCase() + text.slice(1) : "";
}

/** The roles the server knows (tillwise.governance.rbac.ROLES), in the order people think of them. */
export const ROLES = [
  "associate", "store_manager", "buyer", "loss_prevention", "regional_manager", "admin", "viewer",
];
export const MODES = ["off", "shadow", "draft", "auto"];
export const MODE_HELP = {
  off: "proposals are discarded",
  shadow: "computed and logged only; nothing is written",
  draft: "each proposal waits for a person",
  auto: "written at once within the limit; above it, waits for a person",
};
export const PROPOSAL_KINDS = [
  "stock_adjustment", "draft_purchase_order", "transfer", "discount", "risk_decision",
  "schedule", "return_draft",
];
export const PROPOSAL_STATUSES = [
  "pending", "approved", "applied", "failed", "rejected", "expired", "reverting", "reverted",
  "merged", "shadow", "discarded", "new",
];

/** The pill colour of a proposal, rollout or connection status. */
export function statusKind(status) {
  if (["applied", "completed", "active", "auto"].includes(status)) return "ok";
  if (["pending", "approved", "draft", "new", "reverting"].includes(status)) return "warn";
  if (["failed", "rejected", "rolled_back", "expired", "off"].includes(status)) return "bad";
  return "";
}

/** A money value as the API sends it ({amount: minor units, currency}), or "—". */
export function formatValue(value) {
  return value ? formatMoney(value.amount, value.currency) : "—";
}

/** "2024-01-16T09:02:00Z" → a local date-time-local input value ("2024-01-16T10:02"). */
export function isoToLocalInput(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A datetime-local input value (the browser's local time) → RFC 3339 UTC, or "" when blank. */
export function localInputToIso(value) {
  if (!value) return "";
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString();
}
