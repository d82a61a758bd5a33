"""Who receives what and who sees which subscription (tenant and business domains)."""
from __future__ import annotations

from crm_common.auth import DomainScope
from webhook_service.domain.model import Subscription, domains_of

EVERYTHING = DomainScope(True, frozenset())


def scope(*codes):
    return DomainScope(False, frozenset(codes))


def sub(all_domains=False, domains=("D1",), events=("customer.*",)):
    return Subscription(factory_id="F1", url="https://h.example/", events=list(events), secret="s",
                        all_domains=all_domains, domains=list(domains))


def test_a_subscription_carries_the_domains_of_the_token_that_created_it():
    assert domains_of(EVERYTHING) == (True, [])
    assert domains_of(scope("D2", "D1")) == (False, ["D1", "D2"])


def test_a_domain_scoped_subscription_receives_only_its_domains_and_never_a_customer_without_one():
    d1 = sub(domains=["D1"])
    assert d1.receives_domain("D1")
    assert not d1.receives_domain("D2")
    assert not d1.receives_domain(None)
    assert sub(all_domains=True, domains=[]).receives_domain(None)


def test_a_caller_sees_a_subscription_only_when_its_domains_cover_the_subscriptions():
    d1, d12, everything = sub(domains=["D1"]), sub(domains=["D1", "D2"]), sub(all_domains=True, domains=[])
    assert d1.visible_to(scope("D1")) and d1.visible_to(scope("D1", "D2")) and d1.visible_to(EVERYTHING)
    assert not d12.visible_to(scope("D1"))
    assert not everything.visible_to(scope("D1", "D2")) and everything.visible_to(EVERYTHING)
    assert everything.shown_domains == ["*"] and d12.shown_domains == ["D1", "D2"]
