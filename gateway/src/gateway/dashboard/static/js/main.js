// The dashboard page: sign-in (pasted token or client credentials), tenant and date
// filters, and one refresh that loads every card at once. Each card loads and fails alone.
//
// document.body.dataset.state tells tests and the bench where the page is:
// "signed-out", "loading" or "ready" (every card settled, performance mark "dashboard-ready";
// each card marks "card-ready:<id>" when it is drawn or shows its error).

import { ApiError, getData, tokenForClient } from "./api.js";
import { Card, downloadName } from "./card.js";
import { CARDS } from "./charts.js";
import { localToday } from "./format.js";
import { periods } from "./periods.js";
import { TokenError, resume, signIn, signOut } from "./session.js";

const $ = (id) => document.getElementById(id);
const FACTORY_KEY = "crm.dashboard.factory";
const MAX_TIMER_MS = 2 ** 31 - 1;

let session = null;
let cards = [];
let inFlight = null;    // AbortController of the running refresh
let expiryTimer = null;

// --- signing in and out ---------------------------------------------------------------------

function showError(el, message) {
  el.textContent = message || "";
  el.hidden = !message;
}

function showSignIn(message = "") {
  session = null;
  inFlight?.abort();
  clearTimeout(expiryTimer);
  cards.forEach((c) => c.dispose());
  cards = [];
  $("dashboard").hidden = true;
  $("who").hidden = true;
  $("sign-in").hidden = false;
  showError($("sign-in-error"), message);
  document.body.dataset.state = "signed-out";
}

function leave(message) {
  signOut();
  showSignIn(message);
}

function start(newSession) {
  session = newSession;
  $("sign-in").hidden = true;
  showError($("sign-in-error"), "");
  $("token-input").value = "";
  $("client-secret").value = "";
  $("who").hidden = false;
  $("who-name").textContent = session.name;
  $("who-roles").textContent = `角色：${session.roles.join("、") || "无"}`;
  const expires = session.expiresAt;
  $("who-expiry").textContent = `令牌 ${expires.toLocaleString("zh-CN", { hour12: false })} 过期`;
  clearTimeout(expiryTimer);
  expiryTimer = setTimeout(() => leave("令牌已过期，请重新登录"), Math.min(expires - Date.now(), MAX_TIMER_MS));
  setUpFilters();
  const template = $("card-template");
  cards = CARDS.map((def) => new Card(def, $("cards"), template));
  $("dashboard").hidden = false;
  if (chosenFactory()) refresh();
  else document.body.dataset.state = "ready";
}

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  try {
    start(signIn($("token-input").value));
  } catch (err) {
    if (!(err instanceof TokenError)) throw err;
    showError($("sign-in-error"), err.message);
  }
});

$("client-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = event.submitter;
  button.disabled = true;
  try {
    const token = await tokenForClient($("client-id").value.trim(), $("client-secret").value);
    start(signIn(token));
  } catch (err) {
    if (!(err instanceof ApiError || err instanceof TokenError)) throw err;
    showError($("sign-in-error"), err.message);
  } finally {
    button.disabled = false;
  }
});

$("sign-out").addEventListener("click", () => leave(""));

// --- filters --------------------------------------------------------------------------------

function setUpFilters() {
  const select = $("factory-select");
  const input = $("factory-input");
  const remembered = sessionStorage.getItem(FACTORY_KEY);
  // A "*" token may act in any tenant: the user types it (the listed ones are suggested).
  select.hidden = session.anyFactory;
  select.disabled = session.anyFactory;
  input.hidden = !session.anyFactory;
  input.disabled = !session.anyFactory;
  if (session.anyFactory) {
    $("factory-list").replaceChildren(...session.factories.map((f) => new Option(f, f)));
    input.value = remembered || session.factories[0] || "";
  } else {
    select.replaceChildren(...session.factories.map((f) => new Option(f, f)));
    if (remembered && session.mayUse(remembered)) select.value = remembered;
  }
  if (!$("date-to").value) {
    const today = localToday();
    const [y, m] = today.split("-").map(Number);
    const first = new Date(Date.UTC(y, m - 12, 1)).toISOString().slice(0, 10);  // the last 12 months
    $("date-from").value = first;
    $("date-to").value = today;
  }
}

function chosenFactory() {
  return (session.anyFactory ? $("factory-input").value : $("factory-select").value).trim();
}

$("filters").addEventListener("submit", (event) => {
  event.preventDefault();
  refresh();
});
$("factory-select").addEventListener("change", () => refresh());

function filterProblem(factory, dateFrom, dateTo) {
  if (!factory) return "请选择或输入工厂 ID";
  if (!session.mayUse(factory)) return `令牌不能访问工厂 ${factory}`;
  if (Boolean(dateFrom) !== Boolean(dateTo)) return "请同时填写开始日期和结束日期（或都留空查看全部）";
  if (dateFrom && dateFrom > dateTo) return "开始日期不能晚于结束日期";
  if (dateFrom && !periods(dateFrom, dateTo)) return "日期范围过长：最多 12 年";
  return "";
}

// --- loading --------------------------------------------------------------------------------

function context(factory, dateFrom, dateTo, signal) {
  const shared = new Map();  // one call per distinct URL and refresh (two cards read overall-statistics)
  const once = (key, call) => {
    if (!shared.has(key)) shared.set(key, call());
    return shared.get(key);
  };
  const token = session.token;
  return {
    factory, dateFrom, dateTo,
    mobile: (name, params = {}) => {
      const path = `/api/mobile/${encodeURIComponent(factory)}/customers/${name}`;
      return once(path + JSON.stringify(params), () => getData(path, { token, params, signal }));
    },
    get: (path, params = {}) => once(path + JSON.stringify(params),
      () => getData(path, { token, factory, params, signal })),
  };
}

async function refresh() {
  const factory = chosenFactory();
  const dateFrom = $("date-from").value;
  const dateTo = $("date-to").value;
  const problem = filterProblem(factory, dateFrom, dateTo);
  showError($("filters-error"), problem);
  if (problem) return;
  sessionStorage.setItem(FACTORY_KEY, factory);
  inFlight?.abort();
  const controller = new AbortController();
  inFlight = controller;
  document.body.dataset.state = "loading";
  showError($("role-notice"), "");
  const ctx = context(factory, dateFrom, dateTo, controller.signal);
  const outcomes = await Promise.all(cards.map(async (card) => {
    card.loading(downloadName(card.def.id, factory));
    try {
      const data = await card.def.load(ctx);
      if (controller.signal.aborted) return "superseded";
      card.show(card.def.render(data));
      performance.mark(`card-ready:${card.def.id}`);
      return "ok";
    } catch (err) {
      if (controller.signal.aborted) return "superseded";
      if (err instanceof ApiError && err.status === 401) return "signed-out";
      if (!(err instanceof ApiError)) console.error(card.def.id, err);  // a bug: keep the stack
      card.fail(err instanceof ApiError ? err : new ApiError(null, `显示失败：${err.message}`));
      performance.mark(`card-ready:${card.def.id}`);
      return err.status === 403 ? "forbidden" : "error";
    }
  }));
  if (controller.signal.aborted) return;
  if (outcomes.includes("signed-out")) {
    leave("登录已失效或令牌无效，请重新登录");
    return;
  }
  const forbidden = cards.filter((_, i) => outcomes[i] === "forbidden").map((c) => c.def.title);
  if (forbidden.length) {
    showError($("role-notice"), `当前令牌（角色：${session.roles.join("、") || "无"}）无权查看：${forbidden.join("、")}。`
      + "统计看板需要 analyst（分析员）角色，admin 亦可；请换用有此角色的令牌登录。");
  }
  document.body.dataset.state = "ready";
  performance.mark("dashboard-ready");
}

// --- start ----------------------------------------------------------------------------------

if (typeof echarts === "undefined") {
  document.body.dataset.state = "broken";
  document.querySelector("main").textContent = "图表库未能加载（vendor/echarts），请刷新页面或联系管理员。";
} else {
  const resumed = resume();
  if (resumed) start(resumed);
  else showSignIn();
}
