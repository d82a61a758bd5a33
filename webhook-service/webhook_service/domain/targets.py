"""Where a delivery may go (CONTRACT §6).

In development any ``http``/``https`` URL. With ``CRM_ENV=production`` only ``https`` to
public addresses: the host is resolved and every address it resolves to must be public
(no loopback, private, shared, link-local, cloud metadata, multicast or reserved
address, IPv6 forms embedding one included); the delivery then connects to the address
that was checked, so a DNS answer that changes between check and connect cannot redirect
it (the TLS certificate is still verified against the host name). Hosts listed in
``WEBHOOK_ALLOWED_HOSTS`` skip the address rules (an in-house receiver). Redirects are
never followed (``adapters.http_sender``)."""
from __future__ import annotations

import ipaddress
import socket
import urllib.parse
from dataclasses import dataclass
from typing import Callable, Iterable

MAX_URL_LENGTH = 2048
SCHEMES = ("http", "https")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

Resolver = Callable[[str, int], list[str]]


class TargetRefused(ValueError):
    """The URL may not receive deliveries (the message says why, for the subscriber)."""


@dataclass(frozen=True)
class Target:
    """A checked URL. ``connect_to`` is the address to open the connection to (``None``:
    resolve ``host`` as usual)."""
    url: str
    scheme: str
    host: str
    port: int
    path: str
    connect_to: str | None = None

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (in the resolver's order)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def is_public_address(address: str) -> bool:
    """True for a globally routable unicast address. Cloud metadata endpoints
    (169.254.169.254, fd00:ec2::254, 100.100.100.200) are link-local, unique-local or
    shared space, hence not public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public_address(str(embedded))
    return ip.is_global and not ip.is_multicast


class TargetPolicy:
    def __init__(self, *, production: bool, allowed_hosts: Iterable[str] = (),
                 resolver: Resolver = system_resolver):
        self.production = production
        self.allowed_hosts = frozenset(h.strip().lower().rstrip(".") for h in allowed_hosts if h.strip())
        self.resolver = resolver

    def check(self, url: str) -> Target:
        """The target of ``url``, or ``TargetRefused`` saying why it may not receive."""
        target = parse(url)
        if not self.production or target.host in self.allowed_hosts:
            return target
        if target.scheme != "https":
            raise TargetRefused("生产环境只允许 https 地址")
        try:
            addresses = [target.host] if _is_ip(target.host) else self.resolver(target.host, target.port)
        except (OSError, UnicodeError) as exc:
            raise TargetRefused(f"无法解析主机 {target.host}") from exc
        if not addresses:
            raise TargetRefused(f"无法解析主机 {target.host}")
        refused = [a for a in addresses if not is_public_address(a)]
        if refused:
            raise TargetRefused(f"主机 {target.host} 指向非公网地址 {refused[0]}（回环、内网、链路本地或元数据地址不允许）")
        return Target(target.url, target.scheme, target.host, target.port, target.path, connect_to=addresses[0])


def parse(url: str) -> Target:
    """The rules every environment applies: an absolute ``http(s)`` URL with a host, no
    user name or password in it (they would show in logs and lists), no fragment."""
    if not isinstance(url, str) or not url.strip():
        raise TargetRefused("地址不能为空")
    if len(url) > MAX_URL_LENGTH:
        raise TargetRefused(f"地址不能超过 {MAX_URL_LENGTH} 个字符")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise TargetRefused("地址不能包含空白或控制字符")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused("地址格式不正确") from exc
    if parts.scheme.lower() not in SCHEMES:
        raise TargetRefused("只支持 http 或 https 地址")
    if "@" in parts.netloc:
        raise TargetRefused("地址中不能包含用户名或密码")
    if parts.fragment:
        raise TargetRefused("地址中不能包含片段（#）")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise TargetRefused("地址缺少主机名")
    scheme = parts.scheme.lower()
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(url, scheme, host, port or (443 if scheme == "https" else 80), path)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        return True
    except ValueError:
        return False
