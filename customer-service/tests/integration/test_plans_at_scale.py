"""Query plans with 100,000 customers in one tenant (PostgreSQL EXPLAIN of the queries the
repositories build): case-insensitive keyword search is served by the trigram indexes, and
an incremental-sync page by ``ix_customers_factory_updated`` with no sort of the table."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from crm_common.auth import DomainScope
from crm_common.paging import Cursor
from customer_service.adapters import orm
from customer_service.adapters.repository import CustomerFilter, CustomerRepository
from customer_service.bootstrap import service_of

pytestmark = pytest.mark.slow
FACTORY = "PLAN100K"
EVERYTHING = DomainScope(True, frozenset())
c = orm.customers.c


@pytest.fixture(scope="module")
def big_tenant(app):
    engine = service_of(app).engine
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO customers (factory_id, business_domain, customer_code, name, type, status, "
            "primary_contact_name, primary_contact_phone, credit_limit, current_balance, payment_terms, rating, source, "
            "viewing_count, total_commission, version, created_at, updated_at) "
            "SELECT :f, 'DEFAULT', 'CODE-' || g, 'Customer ' || md5(g::text), 'company', 'active', '联系人' || (g % 1000), "
            "'13800138000', 1000, 0, 30, 3, 'manual', 0, 0, 1, now() - g * interval '1 second', "
            "now() - g * interval '1 second' FROM generate_series(1, 100000) AS g"), {"f": FACTORY})
        conn.execute(sa.text("ANALYZE customers"))
    return engine


def explain(engine, stmt) -> str:
    sql = stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    with engine.connect() as conn:
        return "\n".join(conn.execute(sa.text(f"EXPLAIN {sql}")).scalars())


def test_keyword_search_in_any_case_uses_the_trigram_indexes(big_tenant):
    with Session(big_tenant) as session:
        matching = CustomerRepository(session).filtered(FACTORY, EVERYTHING, CustomerFilter(keyword="ALI"))
    plan = explain(big_tenant, matching.order_by(c.name, c.id).limit(51))
    assert "~~*" in plan  # ILIKE: case-insensitive
    assert "Bitmap Index Scan on ix_customers_name_trgm" in plan, plan
    assert "Bitmap Index Scan on ix_customers_customer_code_trgm" in plan, plan
    assert "Seq Scan on customers" not in plan, plan


def test_an_incremental_sync_page_reads_the_keyset_index_in_order_without_a_sort(big_tenant):
    cursor = Cursor(dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc), 5)
    with Session(big_tenant) as session:
        stmt = CustomerRepository(session).filtered(FACTORY, EVERYTHING, include_deleted=True)
    page = (stmt.where(sa.tuple_(c.updated_at, c.id) > sa.tuple_(sa.literal(cursor.updated_at), sa.literal(cursor.id)))
            .order_by(c.updated_at, c.id).limit(51))
    plan = explain(big_tenant, page)
    assert "Index Scan using ix_customers_factory_updated on customers" in plan, plan
    assert "ROW(updated_at, id) >" in plan and "Sort" not in plan, plan


def test_a_page_total_is_exact_up_to_the_threshold_and_an_estimate_beyond(big_tenant, client, headers_for):
    from customer_service.adapters import repository
    h = headers_for(factories=[FACTORY], domains=["*"])
    resp = client.get("/api/v1/customers?page=2&page_size=20", headers={**h, "X-Factory-Id": FACTORY})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    data = resp.get_json()["data"]
    assert resp.headers["X-Total-Estimated"] == "true"
    assert 0.8 * 100_000 <= data["total"] <= 1.2 * 100_000, data["total"]  # the planner's estimate
    assert data["total_pages"] == -(-data["total"] // 20) and len(data["items"]) == 20
    mobile = client.get(f"/api/mobile/{FACTORY}/customers?page=1&size=10", headers=h)
    assert mobile.headers["X-Total-Estimated"] == "true" and mobile.get_json()["data"]["totalElements"] > 10_000
    # a filter matching fewer than the threshold: exact, and no header
    narrow = client.get("/api/v1/customers?keyword=Customer%20a&page=1&page_size=5",
                        headers={**h, "X-Factory-Id": FACTORY})
    with Session(big_tenant) as session:
        repo = CustomerRepository(session)
        exact = repo.count(repo.filtered(FACTORY, EVERYTHING, CustomerFilter(keyword="Customer a")))
    assert exact <= repository.EXACT_TOTAL_UP_TO
    assert narrow.get_json()["data"]["total"] == exact and "X-Total-Estimated" not in narrow.headers
