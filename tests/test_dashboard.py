"""Issue 18: the analysts' dashboard at /dashboard/, in a real browser.

Debian's headless Chromium (scripts/ensure-browser.sh installs it; nothing is downloaded),
driven by Playwright, loads the page from the session's stack through the gateway. One
tenant is filled through the APIs (customers of several types, industries and ratings,
balances, orders, external customers and their viewing records) and, once analytics shows
it, every card must show exactly what the API answers for the same token. Every page of
this module runs with the network closed: a request to anything but the gateway's host is
recorded and refused, and each test asserts there was none.

A screenshot of the dashboard is written to var/test-artifacts/ (the path is printed)."""
from __future__ import annotations

import csv
import io
import os
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from playwright.sync_api import Browser, Page, sync_playwright

from crm_testing import auth_headers, make_token, repo_root, wait_for

pytestmark = pytest.mark.system

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--lang=zh-CN"]
ARTIFACTS = repo_root() / "var" / "test-artifacts"
PERIOD = ("2026-01-01", "2026-03-31")   # the viewing records below fall in it
MONTHS = [("2026-01", "2026-01-01", "2026-01-31"), ("2026-02", "2026-02-01", "2026-02-28"),
          ("2026-03", "2026-03-01", "2026-03-31")]
CARDS = ["overview", "financial", "type-distribution", "industry-distribution", "rating-distribution", "vip",
         "rfm", "credit-risk", "rating-scores", "viewing", "freshness"]
ANALYST_ONLY = [c for c in CARDS if c != "viewing"]  # /api/external/statistics also serves integrators


# --- the tenant ------------------------------------------------------------------------------

class Tenant:
    """One factory filled through the gateway, and the API's answers for an analyst."""

    CUSTOMERS = [  # name, type, industry, rating, credit limit
        ("上海餐饮集团", "company", "餐饮", 5, 1_200_000), ("杭州批发行", "company", "批发", 4, 500_000),
        ("北京食品厂", "company", "餐饮", 3, 80_000), ("张三", "individual", "零售", 2, 0),
        ("李四", "individual", None, 1, 0), ("华东经销商", "dealer", "批发", 4, 300_000),
        ("便利店", "retail", "零售", 3, 20_000), ("未分类客户", None, None, 3, 0),
    ]
    BALANCES = {"上海餐饮集团": -350_000, "杭州批发行": -120_000.5, "便利店": 800}
    EXTERNAL = {"wx-1": 4, "wx-2": 5, "wx-3": 1}  # userId suffix -> lead status
    VIEWINGS = [("wx-1", "A1", "2026-01-10T02:00:00Z", 500), ("wx-2", "A2", "2026-02-14T03:00:00Z", 12_000),
                ("wx-2", "A3", "2026-03-01T03:00:00Z", 800), ("wx-3", "A4", "2026-03-20T03:00:00Z", 300)]

    def __init__(self, gateway: str):
        self.gateway = gateway
        self.factory = f"D{uuid.uuid4().hex[:8].upper()}"
        self.analyst_token = make_token(roles=["analyst"], factories=[self.factory, "F-ELSEWHERE"],
                                        sub="u-analyst", name="王分析")
        self.ids: dict[str, int] = {}

    def session(self, roles: list[str], token: str | None = None) -> requests.Session:
        s = requests.Session()
        s.headers.update({"Authorization": f"Bearer {token}"} if token else
                         auth_headers(roles=roles, factories=[self.factory]))
        return s

    def fill(self) -> None:
        admin, finance, integrator = self.session(["admin"]), self.session(["finance_admin"]), self.session(["integrator"])
        for name, ctype, industry, rating, limit in self.CUSTOMERS:
            body = {"name": name, "rating": rating, "credit_limit": limit,
                    **({"type": ctype} if ctype else {}), **({"industry_type": industry} if industry else {})}
            resp = admin.post(f"{self.gateway}/api/v1/customers", json={"customer": body}, timeout=30)
            assert resp.status_code == 201, resp.text
            self.ids[name] = resp.json()["data"]["id"]
        for name, balance in self.BALANCES.items():
            resp = admin.put(f"{self.gateway}/api/mobile/{self.factory}/customers/{self.ids[name]}/balance",
                             params={"balance": balance}, timeout=30)
            assert resp.status_code == 200, resp.text
        orders = [("O-1", "上海餐饮集团", "2026-06-01", "2026-06-20", "冻品猪肉", 2000, 45),
                  ("O-2", "上海餐饮集团", "2026-10-01", None, "牛腱", 300, 120),
                  ("O-3", "杭州批发行", "2026-09-15", "2026-09-30", "鸡翅", 500, 30),
                  ("O-4", "华东经销商", "2026-11-01", None, "羊排", 100, 95)]
        resp = finance.post(f"{self.gateway}/api/v1/analytics/orders", timeout=30, json={"orders": [
            {"order_id": oid, "customer_id": str(self.ids[name]), "order_date": day, "paid_date": paid,
             "items": [{"product_name": product, "quantity": qty, "unit_price": price}]}
            for oid, name, day, paid, product, qty, price in orders]})
        assert resp.status_code == 200, resp.text
        for user, status in self.EXTERNAL.items():
            resp = integrator.post(f"{self.gateway}/api/external/customers", timeout=30,
                                   json={"userId": f"{self.factory}-{user}", "name": f"外部客户{user}", "status": status})
            assert resp.status_code == 200, resp.text
        for user, address, when, commission in self.VIEWINGS:
            resp = integrator.post(f"{self.gateway}/api/external/viewing-records", timeout=30, json={
                "userId": f"{self.factory}-{user}", "property_name": f"小区{address}", "property_address": address,
                "viewing_time": when, "commission": commission, "viewing_status": 1})
            assert resp.status_code == 200, resp.text

    # the API's answers, as the page's user (the analyst) gets them
    def api(self, path: str, **params):
        headers = {"Authorization": f"Bearer {self.analyst_token}", "X-Factory-Id": self.factory}
        resp = requests.get(f"{self.gateway}{path}", params=params, headers=headers, timeout=30)
        assert resp.status_code == 200, resp.text
        return resp.json()["data"]

    def mobile(self, name: str, **params):
        return self.api(f"/api/mobile/{self.factory}/customers/{name}", **params)

    def analytics_shows_everything(self) -> bool:
        overall = self.mobile("overall-statistics")
        viewing = self.api("/api/external/statistics", date_from=PERIOD[0], date_to=PERIOD[1])
        return (overall["totalCustomers"] == len(self.CUSTOMERS) + len(self.EXTERNAL)
                and overall["financialSummary"]["totalCurrentBalance"] == round(sum(self.BALANCES.values()), 2)
                and overall["vipCustomers"] == 1
                and viewing["viewing_count"] == len(self.VIEWINGS)
                and viewing["completed_paid_count"] == 1)


@pytest.fixture(scope="module")
def tenant(stack) -> Tenant:
    t = Tenant(stack.gateway)
    t.fill()
    assert wait_for(t.analytics_shows_everything, timeout=30, interval=0.2), "analytics never showed the tenant"
    return t


# --- the browser -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser() -> Browser:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-browser.sh (make test does)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, stack) -> Page:
    """A fresh browser context (no storage) whose only reachable host is the gateway's."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN",
                                  timezone_id="Asia/Shanghai", accept_downloads=True)
    local = urlsplit(stack.gateway).hostname
    outside: list[str] = []

    def network_closed(route):
        if urlsplit(route.request.url).hostname == local:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", network_closed)
    page = context.new_page()
    page.outside = outside
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    yield page
    context.close()


def open_dashboard(page: Page, gateway: str) -> None:
    page.goto(f"{gateway}/dashboard/")
    page.wait_for_selector("body[data-state=signed-out]")


def sign_in(page: Page, token: str, *, factory: str | None = None, period=PERIOD) -> None:
    page.fill("#token-input", token)
    page.click("#token-form button[type=submit]")
    page.wait_for_selector("#dashboard:not([hidden])")
    if factory:
        page.select_option("#factory-select", factory)
    page.fill("#date-from", period[0])
    page.fill("#date-to", period[1])
    page.click("#filters button[type=submit]")
    page.wait_for_selector("body[data-state=ready]")


def card_states(page: Page) -> dict[str, str]:
    return dict(page.locator(".card").evaluate_all("cards => cards.map(c => [c.dataset.chart, c.dataset.state])"))


def assert_every_card_ready(page: Page, but: tuple[str, ...] = ()) -> None:
    states = card_states(page)
    messages = dict(page.locator(".card").evaluate_all(
        "cards => cards.map(c => [c.dataset.chart, c.querySelector('.status').textContent])"))
    wrong = {card: (state, messages[card]) for card, state in states.items() if state != "ready" and card not in but}
    assert not wrong, f"cards not drawn: {wrong}"
    assert set(states) == set(CARDS)


def table(page: Page, card: str) -> dict:
    """A card's table view as the user sees it: each cell's text and its raw API value."""
    page.click(f"#card-{card} [data-action=toggle]")
    page.wait_for_selector(f"#card-{card} .table-wrap:not([hidden])")
    return page.locator(f"#card-{card} table").evaluate("""t => {
        const cells = (tr) => [...tr.cells].map(td => ({text: td.textContent, value: td.dataset.value,
                                                        type: td.dataset.type}));
        return {head: [...t.tHead.rows[0].cells].map(th => th.textContent),
                rows: [...t.tBodies[0].rows].map(cells), foot: t.tFoot ? cells(t.tFoot.rows[0]) : null};
    }""")


def values(row: list[dict]) -> list:
    """Raw cell values as the API typed them (numbers as numbers, empty as None)."""
    out = []
    for cell in row:
        raw = cell["value"]
        if raw == "":
            out.append(None)
        elif cell["type"] in ("int", "decimal", "money", "percent", "duration"):
            out.append(float(raw))
        else:
            out.append(raw)
    return out


def texts(row: list[dict]) -> list[str]:
    return [cell["text"] for cell in row]


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"dashboard screenshot: {path}")
    return path


def assert_network_stayed_closed(page: Page) -> None:
    assert page.outside == [], f"the page tried to reach other hosts: {page.outside}"
    assert page.errors == [], f"script errors: {page.errors}"


# --- tests -----------------------------------------------------------------------------------

def test_an_analyst_sees_on_every_card_exactly_the_figures_the_api_returns(page, stack, tenant):
    open_dashboard(page, stack.gateway)
    sign_in(page, tenant.analyst_token, factory=tenant.factory)
    assert_every_card_ready(page)
    shot = screenshot(page, "dashboard")
    assert shot.stat().st_size > 50_000

    overall = tenant.mobile("overall-statistics")
    overview = table(page, "overview")
    assert [values(r) for r in overview["rows"]] == [
        ["客户总数", overall["totalCustomers"]], ["活跃客户", overall["activeCustomers"]],
        ["非活跃客户", overall["inactiveCustomers"]], ["本月新增客户", overall["newCustomersThisMonth"]],
        ["VIP客户（5星）", overall["vipCustomers"]], ["风险客户（1-2星或超期欠款）", overall["atRiskCustomers"]]]
    assert overall["totalCustomers"] == 11  # the inputs, so that equal is not empty == empty

    money = overall["financialSummary"]
    financial = table(page, "financial")
    assert [values(r)[1] for r in financial["rows"]] == [
        money["totalCreditLimit"], money["totalCurrentBalance"], money["totalAvailableCredit"],
        money["customersWithOutstanding"], money["avgCreditUtilization"]]
    assert money["totalCreditLimit"] == 2_100_000
    # exact in the table, 万 in the figure tiles
    assert texts(financial["rows"][0])[1] == "¥2,100,000.00"
    assert texts(financial["rows"][1])[1] == "-¥469,200.50"
    kpis = page.locator("#card-financial .kpi strong").all_text_contents()
    assert kpis[0] == "¥210万"

    for card, endpoint in (("type-distribution", "type-distribution"), ("industry-distribution", "industry-distribution")):
        api = tenant.mobile(endpoint)
        shown = table(page, card)
        assert [values(r)[:2] for r in shown["rows"]] == [[k, n] for k, n in api.items()], card
        assert values(shown["foot"])[1] == sum(api.values())
    assert tenant.mobile("type-distribution") == {"企业": 3, "个人": 2, "经销商": 1, "零售": 1, "其他": 4}

    ratings = tenant.mobile("rating-distribution")
    shown = table(page, "rating-distribution")
    assert [[r[0], r[2]] for r in map(values, shown["rows"])] == [[f"{k}星", n] for k, n in ratings.items()]

    vip = tenant.mobile("vip", limit=10)
    shown = table(page, "vip")
    assert [values(r) for r in shown["rows"]] == [
        [v["id"], v["name"], v["rating"], v["totalRevenue"], v["totalOrders"], v["avgOrderAmount"], v["lastOrderDate"]]
        for v in vip]
    assert vip[0]["name"] == "上海餐饮集团" and texts(shown["rows"][0])[3] == "¥126,000.00"

    rfm = tenant.api("/api/v1/analytics/rfm", page_size=1)
    shown = table(page, "rfm")
    assert [[r[0], r[2]] for r in map(values, shown["rows"])] == [[k, n] for k, n in rfm["segments"].items()]
    assert sum(rfm["segments"].values()) == 3
    assert f"无订单客户 {rfm['customers_without_orders']} 位" in page.locator("#card-rfm .caption").text_content()

    risk = tenant.api("/api/v1/analytics/credit-risk")
    shown = table(page, "credit-risk")
    assert [[r[0], r[1], r[2]] for r in map(values, shown["rows"])] == [
        [level["label"], level["level"], level["count"]] for level in risk["levels"]]
    assert values(shown["foot"])[2] == risk["total"] == 11

    scores = tenant.api("/api/v1/analytics/rating-scores", page_size=10)
    shown = table(page, "rating-scores")
    parts = ("order_amount", "payment_timeliness", "order_frequency", "cooperation_years")
    assert [values(r) for r in shown["rows"]] == [
        [i["customer_id"], i["name"], i["current_rating"], *(i["parts"][p] for p in parts), i["total"], i["stars"]]
        for i in scores["items"]]

    shown = table(page, "viewing")
    figures = ("viewing_count", "completed_unpaid_count", "completed_paid_count", "total_commission")
    for row, (label, first, last) in zip(shown["rows"], MONTHS, strict=True):
        month = tenant.api("/api/external/statistics", date_from=first, date_to=last)
        assert values(row) == [label, first, last, *(month[f] for f in figures)]
    total = tenant.api("/api/external/statistics", date_from=PERIOD[0], date_to=PERIOD[1])
    assert values(shown["foot"]) == ["合计", *PERIOD, *(total[f] for f in figures)]
    assert total["total_commission"] == 13_600
    assert page.locator("#card-viewing .kpi strong").all_text_contents() == ["4", "1", "1", "¥1.36万"]

    shown = table(page, "freshness")
    fresh = tenant.api("/api/v1/analytics/freshness")
    labels = {"customer-service": "客户（customer-service）", "viewing-service": "带看（viewing-service）",
              "orders": "订单（orders）"}
    for row, source in zip(map(values, shown["rows"]), fresh["sources"], strict=True):
        assert row[0] == labels[source["producer"]]
        assert row[1] == source["last_event_type"]
        assert row[2] == source["last_occurred_at"]
        assert row[6] == source["events_applied"]
        # the page asked a moment before we did: the same event, a little younger
        assert 0 <= source["age_seconds"] - row[5] < 60
    assert_network_stayed_closed(page)


def test_csv_and_png_downloads_hold_the_table_and_the_chart(page, stack, tenant):
    open_dashboard(page, stack.gateway)
    sign_in(page, tenant.analyst_token, factory=tenant.factory)
    with page.expect_download() as csv_download:
        page.click("#card-type-distribution [data-action=csv]")
    download = csv_download.value
    assert download.suggested_filename.startswith(f"type-distribution-{tenant.factory}-")
    assert download.suggested_filename.endswith(".csv")
    text = Path(download.path()).read_bytes().decode("utf-8-sig")  # with a BOM, for spreadsheets
    rows = list(csv.reader(io.StringIO(text)))
    api = tenant.mobile("type-distribution")
    assert rows[0] == ["分类", "客户数", "占比"]
    assert [[name, int(n)] for name, n, _ in rows[1:-1]] == [[k, n] for k, n in api.items()]
    assert rows[-1][:2] == ["合计", str(sum(api.values()))]

    with page.expect_download() as png_download:
        page.click("#card-viewing [data-action=png]")
    png = Path(png_download.value.path()).read_bytes()
    assert png_download.value.suggested_filename.endswith(".png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert_network_stayed_closed(page)


def test_the_page_loads_nothing_from_outside_and_keeps_the_token_to_the_tab(page, stack, tenant):
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    open_dashboard(page, stack.gateway)
    sign_in(page, tenant.analyst_token, factory=tenant.factory)
    for card in CARDS:
        table(page, card)
    assert_every_card_ready(page)
    local = urlsplit(stack.gateway).netloc
    assert requested and all(urlsplit(url).netloc == local for url in requested if not url.startswith("data:"))
    assert any(url.endswith("/dashboard/vendor/echarts/echarts.common.min.js") for url in requested)
    assert_network_stayed_closed(page)

    storage = page.evaluate("() => ({local: {...localStorage}, session: {...sessionStorage}, cookies: document.cookie})")
    assert storage["local"] == {} and storage["cookies"] == ""
    assert storage["session"]["crm.dashboard.token"] == tenant.analyst_token
    page.reload()  # the same tab: still signed in
    page.wait_for_selector("body[data-state=ready]")
    assert page.locator("#who-name").text_content() == "王分析"
    page.click("#sign-out")
    page.wait_for_selector("body[data-state=signed-out]")
    assert "crm.dashboard.token" not in page.evaluate("() => ({...sessionStorage})")


def test_a_token_without_an_analyst_role_gets_a_clear_message_not_a_broken_page(page, stack, tenant):
    token = make_token(roles=["integrator"], factories=[tenant.factory])
    open_dashboard(page, stack.gateway)
    sign_in(page, token)
    notice = page.locator("#role-notice")
    assert notice.is_visible()
    assert "integrator" in notice.text_content() and "analyst" in notice.text_content()
    states = card_states(page)
    assert {card: states[card] for card in ANALYST_ONLY} == {card: "forbidden" for card in ANALYST_ONLY}
    assert states["viewing"] == "ready"
    assert "无权查看" in page.locator("#card-vip .status").text_content()
    screenshot(page, "dashboard-integrator")
    assert_network_stayed_closed(page)


def test_one_failing_endpoint_shows_its_error_and_the_other_cards_keep_working(page, stack, tenant):
    page.route("**/api/v1/analytics/credit-risk*", lambda route: route.fulfill(
        status=503, content_type="application/json",
        json={"success": False, "code": 5030, "message": "analytics-service 暂不可用"}))
    page.route("**/customers/rating-distribution*", lambda route: route.abort("connectionrefused"))
    open_dashboard(page, stack.gateway)
    sign_in(page, tenant.analyst_token, factory=tenant.factory)
    states = card_states(page)
    assert states["credit-risk"] == states["rating-distribution"] == "error"
    assert_every_card_ready(page, but=("credit-risk", "rating-distribution"))
    assert "服务暂不可用（HTTP 503）：analytics-service 暂不可用" in page.locator("#card-credit-risk .status").text_content()
    assert "无法连接网关" in page.locator("#card-rating-distribution .status").text_content()
    for action in ("toggle", "csv", "png"):  # nothing to show or download for a failed card
        assert page.locator(f"#card-credit-risk [data-action={action}]").is_disabled()
    assert page.locator("#role-notice").is_hidden()
    assert_network_stayed_closed(page)


def test_the_tenant_picker_offers_only_the_tokens_factories(page, stack, tenant):
    open_dashboard(page, stack.gateway)
    sign_in(page, tenant.analyst_token, factory=tenant.factory)
    options = page.locator("#factory-select option").all_text_contents()
    assert options == [tenant.factory, "F-ELSEWHERE"]
    assert page.locator("#factory-input").is_hidden()
    page.click("#sign-out")

    # "*": any tenant, typed by the user
    sign_in(page, make_token(roles=["analyst"], factories=["*"]))
    assert page.locator("#factory-select").is_hidden()
    page.fill("#factory-input", tenant.factory)
    page.click("#filters button[type=submit]")
    page.wait_for_selector("body[data-state=ready]")
    assert page.locator("#card-overview .kpi").first.get_attribute("data-value") == "11"
    assert_network_stayed_closed(page)


def test_a_bad_token_is_refused_with_a_message(page, stack, tenant):
    open_dashboard(page, stack.gateway)
    page.fill("#token-input", "not-a-token")
    page.click("#token-form button[type=submit]")
    assert "不是一个 JWT" in page.locator("#sign-in-error").text_content()
    expired = make_token(roles=["analyst"], factories=[tenant.factory], ttl=-10)
    page.fill("#token-input", expired)
    page.click("#token-form button[type=submit]")
    assert "已过期" in page.locator("#sign-in-error").text_content()
    # well-formed but signed with another key: the gateway answers 401 and the page signs out
    forged = make_token(roles=["analyst"], factories=[tenant.factory], secret="another-secret-0123456789-abcdef")
    page.fill("#token-input", forged)
    page.click("#token-form button[type=submit]")
    page.wait_for_selector("body[data-state=signed-out] #sign-in-error:not([hidden])")
    assert "请重新登录" in page.locator("#sign-in-error").text_content()
    assert "crm.dashboard.token" not in page.evaluate("() => ({...sessionStorage})")
    assert_network_stayed_closed(page)


def test_client_credentials_sign_in_with_an_api_client_of_the_token_issuer(page, stack, tenant):
    """CONTRACT §3: an admin creates an API client; the analyst types its id and secret; the
    page posts the form to /oauth/token (the real issuer, through the gateway) and uses the
    issuer's signed token for every card."""
    admin = auth_headers(roles=["admin"], sub="u-admin", name="管理员")
    resp = requests.post(f"{stack.gateway}/api/v1/api-clients", headers=admin, timeout=30, json={
        "name": f"看板 {uuid.uuid4().hex[:6]}", "roles": ["analyst"], "factories": [tenant.factory], "domains": ["*"]})
    assert resp.status_code == 201, resp.text
    client = resp.json()["data"]
    posted: list[dict] = []
    page.on("request", lambda r: posted.append({"content_type": r.headers.get("content-type", ""),
                                                **parse_qs(r.post_data or "")})
            if r.url.endswith("/oauth/token") else None)

    open_dashboard(page, stack.gateway)
    page.fill("#client-id", client["client_id"])
    page.fill("#client-secret", "not-the-secret")
    page.click("#client-form button[type=submit]")
    page.wait_for_selector("#sign-in-error:not([hidden])")
    assert "客户端 ID 或密钥不正确" in page.locator("#sign-in-error").text_content()
    assert page.locator("#dashboard").is_hidden()

    page.fill("#client-secret", client["client_secret"])
    page.click("#client-form button[type=submit]")
    page.wait_for_selector("body[data-state=ready]")
    assert posted[-1]["content_type"].startswith("application/x-www-form-urlencoded")
    assert {k: v for k, v in posted[-1].items() if k != "content_type"} == {
        "grant_type": ["client_credentials"], "client_id": [client["client_id"]],
        "client_secret": [client["client_secret"]]}
    assert page.locator("#factory-select option").all_text_contents() == [tenant.factory]
    assert_every_card_ready(page)
    assert page.locator("#card-overview .kpi").first.get_attribute("data-value") == "11"
    token = page.evaluate("() => sessionStorage.getItem('crm.dashboard.token')")
    assert jwt.get_unverified_header(token)["alg"] in ("EdDSA", "RS256")  # the issuer's, not a dev token
    assert_network_stayed_closed(page)


def test_number_and_period_formats(page, stack):
    open_dashboard(page, stack.gateway)
    got = page.evaluate("""async () => {
        const f = await import('/dashboard/js/format.js');
        const p = await import('/dashboard/js/periods.js');
        const cut = (a, b) => { const r = p.periods(a, b); return r && [r.unit, r.periods.map(x => x.label)]; };
        return {
            formats: [f.integer(1234567), f.money(-15000), f.compact(12345), f.compact(123456789),
                      f.compactMoney(2100000), f.compactMoney(-469200.5), f.percent(11.43), f.duration(5400),
                      f.dateTime('2026-03-31T17:00:00Z'), f.integer(null)],
            days: cut('2026-03-01', '2026-03-07'),
            weeks: cut('2026-03-04', '2026-04-15'),
            months: cut('2025-12-15', '2026-03-31'),
            quarters: cut('2025-02-01', '2026-03-31'),
            years: cut('2020-06-01', '2026-03-31'),
            tooLong: cut('1990-01-01', '2026-03-31'),
        };
    }""")
    assert got["formats"] == ["1,234,567", "-¥15,000.00", "1.23万", "1.23亿", "¥210万", "-¥46.92万", "11.43%",
                              "1.5 小时", "2026-04-01 01:00:00", "—"]
    assert got["days"] == ["day", [f"2026-03-0{d}" for d in range(1, 8)]]
    assert got["weeks"] == ["week", ["2026-03-04 至 03-08", "2026-03-09 至 03-15", "2026-03-16 至 03-22",
                                     "2026-03-23 至 03-29", "2026-03-30 至 04-05", "2026-04-06 至 04-12",
                                     "2026-04-13 至 04-15"]]
    assert got["months"] == ["month", ["2025-12", "2026-01", "2026-02", "2026-03"]]
    assert got["quarters"] == ["quarter", ["2025年第1季度", "2025年第2季度", "2025年第3季度", "2025年第4季度",
                                           "2026年第1季度"]]
    assert got["years"] == ["year", [f"{y}年" for y in range(2020, 2027)]]
    assert got["tooLong"] is None
