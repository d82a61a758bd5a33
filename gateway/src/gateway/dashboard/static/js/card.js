// One card of the dashboard: its chart, its table view, CSV and PNG downloads, and its own
// loading, empty and error states (one failing endpoint never breaks the other cards).
//
// The table holds the exact API values: each cell shows the formatted value and keeps the
// raw one in data-value (what the CSV download writes).

import { EXACT, SHORT, localToday } from "./format.js";

const STATES = { idle: "", loading: "加载中…", empty: "暂无数据" };

function cell(value) {
  return value !== null && typeof value === "object" ? value : { value, type: null };
}

function csvField(value) {
  if (value === null || value === undefined) return "";
  let text = String(value);
  // A text cell starting like a formula would run as one in a spreadsheet.
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function download(filename, href) {
  const link = document.createElement("a");
  link.href = href;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
}

export class Card {
  constructor(def, container, template) {
    this.def = def;
    this.el = template.content.firstElementChild.cloneNode(true);
    this.el.id = `card-${def.id}`;
    this.el.dataset.chart = def.id;
    this.el.querySelector("h2").textContent = def.title;
    this.el.querySelector("h2").title = def.source;
    this.parts = {
      caption: this.el.querySelector(".caption"),
      kpis: this.el.querySelector(".kpis"),
      status: this.el.querySelector(".status"),
      chart: this.el.querySelector(".chart"),
      tableWrap: this.el.querySelector(".table-wrap"),
      table: this.el.querySelector("table"),
      toggle: this.el.querySelector('[data-action="toggle"]'),
      csv: this.el.querySelector('[data-action="csv"]'),
      png: this.el.querySelector('[data-action="png"]'),
    };
    this.parts.toggle.addEventListener("click", () => this.showTable(!this.tableShown));
    this.parts.csv.addEventListener("click", () => this.downloadCsv());
    this.parts.png.addEventListener("click", () => this.downloadPng());
    this.chart = null;
    this.model = null;
    this.tableShown = false;
    this.filename = def.id;
    container.append(this.el);
    this.resizer = new ResizeObserver(() => this.chart?.resize());
    this.resizer.observe(this.parts.chart);
  }

  setState(state, message = STATES[state] ?? "") {
    this.el.dataset.state = state;
    this.parts.status.textContent = message;
    this.parts.status.className = `status ${state}`;
  }

  loading(filename) {
    this.filename = filename;
    this.model = null;
    this.setState("loading");
    delete this.el.dataset.httpStatus;
    this.parts.toggle.disabled = this.parts.csv.disabled = this.parts.png.disabled = true;
  }

  show(model) {
    this.model = model;
    this.parts.caption.textContent = model.caption || "";
    this.renderKpis(model.kpis || []);
    this.renderTable(model.table);
    const drawn = Boolean(model.chart) && !model.empty;
    this.parts.chart.hidden = !drawn || this.tableShown;
    if (drawn) {
      this.chart ??= echarts.init(this.parts.chart, null, { renderer: "canvas" });
      this.chart.setOption(model.chart, true);
    } else {
      this.chart?.clear();
    }
    this.parts.toggle.disabled = this.parts.csv.disabled = false;
    this.parts.png.disabled = !drawn;
    this.setState(model.empty ? "empty" : "ready", model.empty ? STATES.empty : "");
  }

  fail(error) {
    this.model = null;
    this.parts.caption.textContent = "";
    this.parts.kpis.replaceChildren();
    this.parts.table.tHead.replaceChildren();
    this.parts.table.tBodies[0].replaceChildren();
    this.parts.table.tFoot?.remove();
    this.chart?.clear();
    this.parts.chart.hidden = true;
    this.parts.toggle.disabled = this.parts.csv.disabled = this.parts.png.disabled = true;
    const trace = error.traceId ? `（追踪号 ${error.traceId}）` : "";
    this.setState(error.status === 403 ? "forbidden" : "error", `${error.message}${trace}`);
    this.el.dataset.httpStatus = error.status ?? "";
  }

  renderKpis(kpis) {
    this.parts.kpis.replaceChildren(...kpis.map((k) => {
      const tile = document.createElement("div");
      tile.className = "kpi";
      tile.dataset.value = k.value ?? "";
      const value = document.createElement("strong");
      value.textContent = SHORT[k.type](k.value);
      value.title = EXACT[k.type](k.value);
      const label = document.createElement("span");
      label.textContent = k.label;
      tile.append(value, label);
      return tile;
    }));
  }

  renderTable({ columns, rows, footer }) {
    const row = (values, tag) => {
      const tr = document.createElement("tr");
      values.forEach((raw, i) => {
        const { value, type } = cell(raw);
        const td = document.createElement(tag);
        const kind = type || columns[i].type;
        td.textContent = EXACT[kind](value);
        td.dataset.value = value ?? "";
        td.dataset.type = kind;
        if (kind !== "text" && kind !== "date") td.className = "num";
        tr.append(td);
      });
      return tr;
    };
    const head = document.createElement("tr");
    head.append(...columns.map((c) => Object.assign(document.createElement("th"), {
      textContent: c.label, className: c.type === "text" || c.type === "date" ? "" : "num",
    })));
    this.parts.table.tHead.replaceChildren(head);
    const body = rows.length ? rows.map((r) => row(r, "td")) : [this.emptyRow(columns.length)];
    this.parts.table.tBodies[0].replaceChildren(...body);
    this.parts.table.tFoot?.remove();
    if (footer) this.parts.table.createTFoot().append(row(footer, "td"));
  }

  emptyRow(span) {
    const tr = document.createElement("tr");
    const td = Object.assign(document.createElement("td"), { colSpan: span, textContent: "暂无数据" });
    td.className = "empty-row";
    tr.append(td);
    return tr;
  }

  showTable(on) {
    this.tableShown = on;
    this.parts.tableWrap.hidden = !on;
    this.parts.chart.hidden = on || !this.model?.chart || this.model.empty;
    this.parts.toggle.textContent = on ? "图表" : "表格";
    this.parts.toggle.setAttribute("aria-pressed", String(on));
    if (!on) this.chart?.resize();
  }

  downloadCsv() {
    if (!this.model) return;
    const { columns, rows, footer } = this.model.table;
    const lines = [columns.map((c) => csvField(c.label)),
      ...[...rows, ...(footer ? [footer] : [])].map((r) => r.map((v) => csvField(cell(v).value)))];
    const text = `\ufeff${lines.map((l) => l.join(",")).join("\r\n")}\r\n`;  // BOM: spreadsheets read UTF-8
    const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
    download(`${this.filename}.csv`, url);
    setTimeout(() => URL.revokeObjectURL(url), 0);
  }

  downloadPng() {
    if (!this.chart || !this.model?.chart) return;
    download(`${this.filename}.png`,
      this.chart.getDataURL({ type: "png", pixelRatio: 2, backgroundColor: "#ffffff" }));
  }

  dispose() {
    this.resizer.disconnect();
    this.chart?.dispose();
    this.el.remove();
  }
}

/** `<card>-<factory>-<today>`: download names that say what and when. */
export function downloadName(cardId, factory) {
  const safe = String(factory).replace(/[^A-Za-z0-9_-]/g, "_");
  return `${cardId}-${safe}-${localToday().replace(/-/g, "")}`;
}
