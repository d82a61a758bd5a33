// The date range of the viewing statistics cut into calendar periods (days, weeks, months,
// quarters or years: the finest with at most MAX_PERIODS), each clipped to the range.
// /api/external/statistics answers one period per call, so this bounds the calls per refresh.

export const MAX_PERIODS = 12;
const DAY = 86400000;
const UNITS = ["day", "week", "month", "quarter", "year"];

function parse(iso) {
  const [y, m, d] = iso.split("-").map(Number);
  return Date.UTC(y, m - 1, d);
}
const iso = (t) => new Date(t).toISOString().slice(0, 10);

function startOf(unit, t) {
  const d = new Date(t);
  const y = d.getUTCFullYear(), m = d.getUTCMonth();
  switch (unit) {
    case "day": return t;
    case "week": return t - ((d.getUTCDay() + 6) % 7) * DAY;  // weeks start on Monday
    case "month": return Date.UTC(y, m, 1);
    case "quarter": return Date.UTC(y, m - (m % 3), 1);
    default: return Date.UTC(y, 0, 1);
  }
}

function after(unit, t) {
  const d = new Date(t);
  const y = d.getUTCFullYear(), m = d.getUTCMonth();
  switch (unit) {
    case "day": return t + DAY;
    case "week": return t + 7 * DAY;
    case "month": return Date.UTC(y, m + 1, 1);
    case "quarter": return Date.UTC(y, m + 3, 1);
    default: return Date.UTC(y + 1, 0, 1);
  }
}

function label(unit, t, from, to) {
  const d = new Date(t);
  const y = d.getUTCFullYear(), m = d.getUTCMonth();
  switch (unit) {
    case "day": return iso(t);
    case "week": return `${from} 至 ${to.slice(5)}`;
    case "month": return `${y}-${String(m + 1).padStart(2, "0")}`;
    case "quarter": return `${y}年第${m / 3 + 1}季度`;
    default: return `${y}年`;
  }
}

/** {unit, periods: [{label, date_from, date_to}]} covering from..to (inclusive dates),
 *  or null when even yearly periods would be more than MAX_PERIODS. */
export function periods(dateFrom, dateTo) {
  const first = parse(dateFrom), last = parse(dateTo);
  for (const unit of UNITS) {
    const out = [];
    for (let start = startOf(unit, first); start <= last && out.length <= MAX_PERIODS; start = after(unit, start)) {
      const from = iso(Math.max(start, first));
      const to = iso(Math.min(after(unit, start) - DAY, last));
      out.push({ label: label(unit, start, from, to), date_from: from, date_to: to });
    }
    if (out.length <= MAX_PERIODS) return { unit, periods: out };
  }
  return null;
}
