"""Where deliveries may go (CONTRACT §6): any http(s) URL in development; in production
only https to public addresses, checked after DNS resolution, unless the host is allowed."""
from __future__ import annotations

import pytest

from webhook_service.domain.targets import TargetPolicy, TargetRefused, is_public_address, parse

DNS = {"hooks.example.com": ["93.184.216.34"], "rebind.example.com": ["93.184.216.34", "10.0.0.7"],
       "localhost": ["127.0.0.1", "::1"], "metadata.google.internal": ["169.254.169.254"],
       "v6.example.com": ["2606:4700:4700::1111"]}


def resolver(host, _port):
    if host not in DNS:
        raise OSError("NXDOMAIN")
    return DNS[host]


production = TargetPolicy(production=True, resolver=resolver)
development = TargetPolicy(production=False, resolver=resolver)


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1",
                                     "169.254.169.254", "100.100.100.200", "100.64.0.1", "0.0.0.0", "::",
                                     "fd00:ec2::254", "fe80::1", "224.0.0.1", "239.255.255.250", "ff02::1",
                                     "::ffff:127.0.0.1", "::ffff:10.0.0.1", "2002:7f00:1::", "64:ff9b::a9fe:a9fe",
                                     "198.18.0.1", "240.0.0.1", "255.255.255.255"])
def test_loopback_private_link_local_metadata_and_embedded_forms_are_not_public(address):
    assert not is_public_address(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses(address):
    assert is_public_address(address)


@pytest.mark.parametrize("url", ["https://127.0.0.1/hook", "https://localhost/hook", "https://[::1]:8443/hook",
                                 "https://metadata.google.internal/computeMetadata/v1/",
                                 "https://169.254.169.254/latest/meta-data", "https://rebind.example.com/hook",
                                 "https://10.0.0.5/hook", "https://[::ffff:127.0.0.1]/hook"])
def test_production_refuses_targets_that_are_or_resolve_to_non_public_addresses(url):
    with pytest.raises(TargetRefused, match="非公网地址"):
        production.check(url)


def test_production_needs_https_and_a_resolvable_host():
    with pytest.raises(TargetRefused, match="https"):
        production.check("http://hooks.example.com/hook")
    with pytest.raises(TargetRefused, match="无法解析"):
        production.check("https://nowhere.invalid/hook")


def test_production_connects_to_the_checked_address_and_keeps_the_host_for_tls():
    target = production.check("https://hooks.example.com/crm/events?src=crm")
    assert (target.host, target.port, target.path, target.connect_to) == (
        "hooks.example.com", 443, "/crm/events?src=crm", "93.184.216.34")
    assert target.host_header == "hooks.example.com"
    v6 = production.check("https://v6.example.com:8443/")
    assert v6.connect_to == "2606:4700:4700::1111" and v6.host_header == "v6.example.com:8443"


def test_allowed_hosts_skip_the_address_rules_in_production():
    policy = TargetPolicy(production=True, allowed_hosts=["LocalHost", "erp-bridge.internal"], resolver=resolver)
    assert policy.check("http://localhost:9000/hook").connect_to is None
    assert policy.check("https://erp-bridge.internal/hook").host == "erp-bridge.internal"
    with pytest.raises(TargetRefused):
        policy.check("https://127.0.0.1/hook")  # allowing a name does not allow every address


def test_development_accepts_any_http_or_https_url_without_resolving():
    for url in ("http://127.0.0.1:8099/hook", "https://localhost/hook", "http://unresolvable.invalid/x"):
        assert development.check(url).connect_to is None


@pytest.mark.parametrize("url, reason", [
    ("ftp://hooks.example.com/x", "http"), ("file:///etc/passwd", "http"), ("hooks.example.com/x", "http"),
    ("https://user:pw@hooks.example.com/x", "用户名"), ("https://hooks.example.com/x#frag", "片段"),
    ("https:///x", "主机"), ("https://hooks.example.com:99999/x", "格式"), ("https://hooks.example.com/a b", "空白"),
    ("https://hooks.example.com/" + "a" * 2100, "2048"), ("", "不能为空"),
])
def test_every_environment_refuses_malformed_urls(url, reason):
    for policy in (development, production):
        with pytest.raises(TargetRefused, match=reason):
            policy.check(url)


def test_parse_defaults_ports_and_paths():
    assert (parse("http://h.example/").port, parse("https://h.example").path) == (80, "/")
