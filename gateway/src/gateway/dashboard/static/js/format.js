// Number, money, date and duration formats of the dashboard (zh-CN). Tables show exact
// values with thousands separators; charts and figure tiles use the compact 万/亿 forms.

export const TIMEZONE = "Asia/Shanghai";  // the APIs' APP_TIMEZONE default (CONTRACT §4)

const grouped = (digits) => new Intl.NumberFormat("zh-CN", {
  minimumFractionDigits: 0, maximumFractionDigits: digits,
});
const INTEGER = grouped(0);
const DECIMAL = grouped(2);
const ONE_DECIMAL = grouped(1);
const YUAN = new Intl.NumberFormat("zh-CN", {
  style: "currency", currency: "CNY", minimumFractionDigits: 2, maximumFractionDigits: 2,
});
const DATE_TIME = new Intl.DateTimeFormat("sv-SE", {  // sv-SE renders as YYYY-MM-DD HH:MM:SS
  timeZone: TIMEZONE, year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
});

const missing = (v) => v === null || v === undefined || v === "";
const DASH = "—";

export function integer(v) { return missing(v) ? DASH : INTEGER.format(v); }
export function decimal(v) { return missing(v) ? DASH : DECIMAL.format(v); }
export function money(v) { return missing(v) ? DASH : YUAN.format(v); }
export function percent(v) { return missing(v) ? DASH : `${DECIMAL.format(v)}%`; }

/** 1234 → "1,234"; 12345 → "1.23万"; 123456789 → "1.23亿". */
export function compact(v) {
  if (missing(v)) return DASH;
  const abs = Math.abs(v);
  if (abs >= 1e8) return `${DECIMAL.format(v / 1e8)}亿`;
  if (abs >= 1e4) return `${DECIMAL.format(v / 1e4)}万`;
  return DECIMAL.format(v);
}

/** ¥ with the compact form: -15000 → "-¥1.5万". */
export function compactMoney(v) {
  if (missing(v)) return DASH;
  return `${v < 0 ? "-" : ""}¥${compact(Math.abs(v))}`;
}

export function dateTime(iso) {
  if (missing(iso)) return DASH;
  const when = new Date(iso);
  return Number.isNaN(when.getTime()) ? String(iso) : DATE_TIME.format(when);
}

/** Seconds as people say them: "0.8 秒", "12 分钟", "3.5 小时", "2 天". */
export function duration(seconds) {
  if (missing(seconds)) return DASH;
  const s = Math.abs(seconds);
  if (s < 60) return `${ONE_DECIMAL.format(seconds)} 秒`;
  if (s < 3600) return `${ONE_DECIMAL.format(seconds / 60)} 分钟`;
  if (s < 86400) return `${ONE_DECIMAL.format(seconds / 3600)} 小时`;
  return `${ONE_DECIMAL.format(seconds / 86400)} 天`;
}

export function text(v) { return missing(v) ? DASH : String(v); }

/** The exact (table) and compact (chart) renderings of each column type. */
export const EXACT = {
  text, int: integer, decimal, money, percent, date: text, datetime: dateTime, duration,
};
export const SHORT = {
  text, int: compact, decimal: compact, money: compactMoney, percent, date: text,
  datetime: dateTime, duration,
};

/** Today's calendar date in the APIs' timezone, as YYYY-MM-DD. */
export function localToday(now = new Date()) {
  return DATE_TIME.format(now).slice(0, 10);
}
