// What the dashboard shows: one definition per card. Each says where its figures come from
// (load), how they read as a table (the exact API values, which the CSV download also
// holds), its headline figures (kpis) and its chart (an ECharts option).
//
// ctx (main.js): ctx.mobile(name, params) for /api/mobile/{factoryId}/customers/<name>,
// ctx.get(path, params) for /api/v1 and /api/external (tenant in X-Factory-Id), and the
// chosen ctx.factory, ctx.dateFrom, ctx.dateTo. Identical calls of one refresh are shared.

import { EXACT, SHORT } from "./format.js";
import { periods } from "./periods.js";

const PALETTE = ["#2f6fde", "#36a36b", "#f0a030", "#e0523f", "#8a5cd6", "#23a6b8", "#d0558f", "#7a8799"];
const STAR_COLORS = { 1: "#e0523f", 2: "#f0a030", 3: "#9aa5b1", 4: "#36a36b", 5: "#2f6fde" };
const STAR_NOTES = { 1: "需关注客户", 2: "需关注客户", 3: "普通客户", 4: "优质客户", 5: "VIP客户" };  // seed 001 §3.2
const RISK_COLORS = { green: "#36a36b", yellow: "#e6c229", orange: "#f0a030", red: "#e0523f" };
const RFM_NOTES = {  // seed 001 客户细分策略
  重要价值客户: "R高 F高 M高：VIP服务、专属客户经理",
  重要保持客户: "R低 F高 M高：定期回访、挽留措施",
  重要发展客户: "R高 F低 M高：增加互动、促进复购",
  一般客户: "其余组合：标准服务",
  流失预警客户: "R低 F低 M低：流失预防、再激活营销",
};
const PRODUCERS = { "customer-service": "客户（customer-service）", "viewing-service": "带看（viewing-service）",
  orders: "订单（orders）" };

const col = (label, type = "text") => ({ label, type });
const share = (n, total) => (total ? Math.round((n / total) * 1000) / 10 : 0);
const sum = (values) => values.reduce((a, b) => a + b, 0);

// --- chart options ----------------------------------------------------------------------

const base = { animation: false, color: PALETTE, textStyle: { fontFamily: "inherit" } };

function pie(items, type = "int") {
  const fmt = SHORT[type];
  return {
    ...base,
    tooltip: { trigger: "item", valueFormatter: EXACT[type] },
    legend: { bottom: 0, type: "scroll" },
    series: [{
      type: "pie", radius: ["38%", "64%"], center: ["50%", "45%"],
      data: items.map(([name, value, color]) => ({
        name, value, itemStyle: color ? { color } : undefined,
        label: { show: value > 0 }, labelLine: { show: value > 0 },  // empty slices stay in the legend only
      })),
      label: { formatter: (p) => `${p.name}\n${fmt(p.value)}（${p.percent}%）` },
    }],
  };
}

function bars(labels, values, { type = "int", horizontal = false, colors = null } = {}) {
  const category = { type: "category", data: labels, inverse: horizontal, axisTick: { show: false } };
  const value = { type: "value", axisLabel: { formatter: SHORT[type] } };
  return {
    ...base,
    grid: { left: 12, right: horizontal ? 56 : 12, top: 28, bottom: 12 },
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: EXACT[type] },
    xAxis: horizontal ? value : category,
    yAxis: horizontal ? category : value,
    series: [{
      type: "bar", barMaxWidth: 36,
      data: values.map((v, i) => (colors ? { value: v, itemStyle: { color: colors[i] } } : v)),
      label: { show: true, position: horizontal ? "right" : "top", formatter: (p) => SHORT[type](p.value) },
    }],
  };
}

function distribution(data, { label = (k) => k, colors = null, horizontal = false } = {}) {
  const entries = Object.entries(data);
  const total = sum(entries.map(([, n]) => n));
  return {
    table: {
      columns: [col("分类"), col("客户数", "int"), col("占比", "percent")],
      rows: entries.map(([k, n]) => [label(k), n, share(n, total)]),
      footer: ["合计", total, total ? 100 : 0],
    },
    chart: horizontal
      ? bars(entries.map(([k]) => label(k)), entries.map(([, n]) => n), { horizontal, colors })
      : pie(entries.map(([k, n], i) => [label(k), n, colors?.[i]])),
    empty: total === 0,
  };
}

// --- the cards ------------------------------------------------------------------------------

export const CARDS = [
  {
    id: "overview",
    title: "客户概况",
    source: "GET /api/mobile/{factoryId}/customers/overall-statistics",
    load: (ctx) => ctx.mobile("overall-statistics"),
    render(d) {
      const rows = [["客户总数", d.totalCustomers], ["活跃客户", d.activeCustomers],
        ["非活跃客户", d.inactiveCustomers], ["本月新增客户", d.newCustomersThisMonth],
        ["VIP客户（5星）", d.vipCustomers], ["风险客户（1-2星或超期欠款）", d.atRiskCustomers]];
      return {
        kpis: rows.slice(0, 4).map(([label, value]) => ({ label, value, type: "int" })),
        table: { columns: [col("指标"), col("客户数", "int")], rows },
        chart: bars(rows.map(([k]) => k.replace(/（.*）/, "")), rows.map(([, v]) => v), { horizontal: true }),
        empty: d.totalCustomers === 0,
      };
    },
  },
  {
    id: "financial",
    title: "财务汇总",
    source: "GET /api/mobile/{factoryId}/customers/overall-statistics → financialSummary",
    load: (ctx) => ctx.mobile("overall-statistics"),
    render(d) {
      const f = d.financialSummary;
      const rows = [
        ["信用额度合计", { value: f.totalCreditLimit, type: "money" }],
        ["当前余额合计（负数为欠款）", { value: f.totalCurrentBalance, type: "money" }],
        ["可用额度合计", { value: f.totalAvailableCredit, type: "money" }],
        ["有欠款客户数", { value: f.customersWithOutstanding, type: "int" }],
        ["平均信用额度使用率", { value: f.avgCreditUtilization, type: "percent" }],
      ];
      const money = rows.slice(0, 3);
      return {
        kpis: [
          { label: "信用额度合计", value: f.totalCreditLimit, type: "money" },
          { label: "可用额度合计", value: f.totalAvailableCredit, type: "money" },
          { label: "有欠款客户", value: f.customersWithOutstanding, type: "int" },
          { label: "平均使用率", value: f.avgCreditUtilization, type: "percent" },
        ],
        table: { columns: [col("指标"), col("数值", "decimal")], rows },
        chart: bars(money.map(([k]) => k.replace(/（.*）/, "")), money.map(([, c]) => c.value),
          { type: "money", colors: [PALETTE[0], f.totalCurrentBalance < 0 ? PALETTE[3] : PALETTE[1], PALETTE[1]] }),
        empty: d.totalCustomers === 0,
      };
    },
  },
  {
    id: "type-distribution",
    title: "客户类型分布",
    source: "GET /api/mobile/{factoryId}/customers/type-distribution",
    load: (ctx) => ctx.mobile("type-distribution"),
    render: (d) => distribution(d),
  },
  {
    id: "industry-distribution",
    title: "客户行业分布",
    source: "GET /api/mobile/{factoryId}/customers/industry-distribution",
    load: (ctx) => ctx.mobile("industry-distribution"),
    render: (d) => distribution(d, { horizontal: true }),
  },
  {
    id: "rating-distribution",
    title: "客户评级分布",
    source: "GET /api/mobile/{factoryId}/customers/rating-distribution",
    load: (ctx) => ctx.mobile("rating-distribution"),
    render(d) {
      const stars = Object.keys(d);
      const total = sum(stars.map((s) => d[s]));
      return {
        table: {
          columns: [col("评级"), col("说明"), col("客户数", "int"), col("占比", "percent")],
          rows: stars.map((s) => [`${s}星`, STAR_NOTES[s] || "", d[s], share(d[s], total)]),
          footer: ["合计", "", total, total ? 100 : 0],
        },
        chart: bars(stars.map((s) => `${s}星`), stars.map((s) => d[s]), { colors: stars.map((s) => STAR_COLORS[s]) }),
        empty: total === 0,
      };
    },
  },
  {
    id: "vip",
    title: "VIP客户（营收前 10）",
    source: "GET /api/mobile/{factoryId}/customers/vip?limit=10",
    load: (ctx) => ctx.mobile("vip", { limit: 10 }),
    render(rows) {
      return {
        table: {
          columns: [col("客户ID"), col("客户名称"), col("评级", "int"), col("累计营收", "money"), col("订单数", "int"),
            col("平均订单金额", "money"), col("最近下单日期", "date")],
          rows: rows.map((r) => [r.id, r.name, r.rating, r.totalRevenue, r.totalOrders, r.avgOrderAmount, r.lastOrderDate]),
        },
        chart: bars(rows.map((r) => r.name || r.id), rows.map((r) => r.totalRevenue), { type: "money", horizontal: true }),
        empty: rows.length === 0,
      };
    },
  },
  {
    id: "rfm",
    title: "RFM 客户细分",
    source: "GET /api/v1/analytics/rfm",
    load: (ctx) => ctx.get("/api/v1/analytics/rfm", { page_size: 1 }),
    render(d) {
      const entries = Object.entries(d.segments);
      const total = sum(entries.map(([, n]) => n));
      return {
        caption: `有订单的客户按最近购买（R）、购买次数（F）、购买金额（M）分组；无订单客户 ${EXACT.int(d.customers_without_orders)} 位不参与细分。`,
        table: {
          columns: [col("客户分类"), col("策略"), col("客户数", "int"), col("占比", "percent")],
          rows: entries.map(([k, n]) => [k, RFM_NOTES[k] || "", n, share(n, total)]),
          footer: ["合计", "", total, total ? 100 : 0],
        },
        chart: pie(entries.map(([k, n]) => [k, n])),
        empty: total === 0,
      };
    },
  },
  {
    id: "credit-risk",
    title: "信用风险等级",
    source: "GET /api/v1/analytics/credit-risk",
    load: (ctx) => ctx.get("/api/v1/analytics/credit-risk"),
    render(d) {
      return {
        table: {
          columns: [col("风险等级"), col("代码"), col("客户数", "int"), col("占比", "percent")],
          rows: d.levels.map((l) => [l.label, l.level, l.count, share(l.count, d.total)]),
          footer: ["合计", "", d.total, d.total ? 100 : 0],
        },
        chart: pie(d.levels.map((l) => [l.label, l.count, RISK_COLORS[l.color]])),
        empty: d.total === 0,
      };
    },
  },
  {
    id: "rating-scores",
    title: "客户评级得分（前 10）",
    source: "GET /api/v1/analytics/rating-scores?page_size=10",
    load: (ctx) => ctx.get("/api/v1/analytics/rating-scores", { page_size: 10 }),
    render(d) {
      const parts = [["order_amount", "订单金额(30%)"], ["payment_timeliness", "付款及时性(40%)"],
        ["order_frequency", "订单频率(20%)"], ["cooperation_years", "合作年限(10%)"]];
      const names = d.items.map((i) => i.name || i.customer_id);
      return {
        caption: `共 ${EXACT.int(d.total)} 位客户，按总分从高到低显示前 ${d.items.length} 位。`,
        table: {
          columns: [col("客户ID"), col("客户名称"), col("当前评级", "int"), ...parts.map(([, l]) => col(l, "decimal")),
            col("总分", "decimal"), col("建议评级", "int")],
          rows: d.items.map((i) => [i.customer_id, i.name, i.current_rating, ...parts.map(([k]) => i.parts[k]),
            i.total, i.stars]),
        },
        chart: {
          ...base,
          grid: { left: 12, right: 24, top: 36, bottom: 12 },
          legend: { top: 0 },
          tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: EXACT.decimal },
          xAxis: { type: "value" },
          yAxis: { type: "category", data: names, inverse: true, axisTick: { show: false } },
          series: parts.map(([k, label]) => ({
            type: "bar", name: label, stack: "total", barMaxWidth: 28, data: d.items.map((i) => i.parts[k]),
          })),
        },
        empty: d.items.length === 0,
      };
    },
  },
  {
    id: "viewing",
    title: "带看统计",
    source: "GET /api/external/statistics?date_from=&date_to=",
    async load(ctx) {
      const stats = (date_from, date_to) => ctx.get("/api/external/statistics", { date_from, date_to });
      if (!ctx.dateFrom || !ctx.dateTo) return { total: await stats(ctx.dateFrom, ctx.dateTo), periods: [] };
      const cut = periods(ctx.dateFrom, ctx.dateTo);  // main.js refuses ranges it cannot cut
      const [total, ...each] = await Promise.all([stats(ctx.dateFrom, ctx.dateTo),
        ...cut.periods.map((p) => stats(p.date_from, p.date_to))]);
      return { total, periods: cut.periods.map((p, i) => ({ ...p, ...each[i] })) };
    },
    render({ total, periods: rows }) {
      const figures = (s) => [s.viewing_count, s.completed_unpaid_count, s.completed_paid_count, s.total_commission];
      const period = total.period?.date_from || total.period?.date_to
        ? `${total.period.date_from || "最早"} 至 ${total.period.date_to || "今天"}` : "全部日期";
      return {
        caption: `期间：${period}。成交客户数为期间内有带看的已成交客户（状态 4 已成交未结佣、5 已成交已结佣）。`,
        kpis: [
          { label: "约看数量", value: total.viewing_count, type: "int" },
          { label: "已成交未结佣", value: total.completed_unpaid_count, type: "int" },
          { label: "已成交已结佣", value: total.completed_paid_count, type: "int" },
          { label: "佣金总金额", value: total.total_commission, type: "money" },
        ],
        table: {
          columns: [col("期间"), col("开始日期", "date"), col("结束日期", "date"), col("约看数量", "int"),
            col("已成交未结佣", "int"), col("已成交已结佣", "int"), col("佣金总金额", "money")],
          rows: rows.map((p) => [p.label, p.date_from, p.date_to, ...figures(p)]),
          footer: ["合计", total.period?.date_from ?? null, total.period?.date_to ?? null, ...figures(total)],
        },
        chart: rows.length ? {
          ...base,
          grid: { left: 12, right: 12, top: 40, bottom: 12 },
          legend: { top: 0 },
          tooltip: { trigger: "axis" },
          xAxis: { type: "category", data: rows.map((p) => p.label) },
          yAxis: [{ type: "value", name: "次数 / 客户数", minInterval: 1, axisLabel: { formatter: SHORT.int } },
            { type: "value", name: "佣金", axisLabel: { formatter: SHORT.money }, splitLine: { show: false } }],
          series: [
            { type: "bar", name: "约看数量", data: rows.map((p) => p.viewing_count), tooltip: { valueFormatter: EXACT.int } },
            { type: "bar", name: "已成交未结佣", stack: "deals", data: rows.map((p) => p.completed_unpaid_count),
              tooltip: { valueFormatter: EXACT.int } },
            { type: "bar", name: "已成交已结佣", stack: "deals", data: rows.map((p) => p.completed_paid_count),
              tooltip: { valueFormatter: EXACT.int } },
            { type: "line", name: "佣金总金额", yAxisIndex: 1, data: rows.map((p) => p.total_commission),
              tooltip: { valueFormatter: EXACT.money } },
          ],
        } : null,
        empty: false,
      };
    },
  },
  {
    id: "freshness",
    title: "数据新鲜度",
    source: "GET /api/v1/analytics/freshness",
    load: (ctx) => ctx.get("/api/v1/analytics/freshness"),
    render(d) {
      const q = d.consumer;
      const queue = q ? `消费队列 ${q.queue}：积压 ${EXACT.int(q.messages)} 条，死信 ${EXACT.int(q.dead_letters)} 条。`
        : "消费队列状态未知（消息代理未回答）。";
      return {
        caption: `统计读模型按来源最近应用的事件；数据年龄 = 现在 − 事件发生时间。${queue}`,
        table: {
          columns: [col("数据来源"), col("最近事件"), col("事件发生时间", "datetime"), col("应用时间", "datetime"),
            col("应用耗时（秒）", "decimal"), col("数据年龄", "duration"), col("已应用事件数", "int")],
          rows: d.sources.map((s) => [PRODUCERS[s.producer] || s.producer, s.last_event_type, s.last_occurred_at,
            s.last_applied_at, s.apply_lag_seconds, s.age_seconds, s.events_applied]),
        },
        chart: bars(d.sources.map((s) => PRODUCERS[s.producer]?.replace(/（.*）/, "") || s.producer),
          d.sources.map((s) => s.age_seconds), { type: "duration", horizontal: true }),
        empty: d.sources.every((s) => s.age_seconds === null),
      };
    },
  },
];
