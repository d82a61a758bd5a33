"""Who is asking, in which tenant and business domains: what the service layer needs
from a request or an event, with no web framework attached."""
from __future__ import annotations

from dataclasses import dataclass

from .auth import DomainScope, Principal


@dataclass(frozen=True)
class RequestContext:
    principal: Principal
    factory_id: str
    scope: DomainScope
    trace_id: str | None

    @property
    def actor(self) -> dict:
        return {"sub": self.principal.sub, "name": self.principal.name}

    @property
    def operator_id(self) -> str:
        return self.principal.sub

    @property
    def operator_name(self) -> str:
        return self.principal.name


def system_context(factory_id: str, trace_id: str | None = None, sub: str = "system",
                   name: str = "system") -> RequestContext:
    """For consumers and commands acting without a user token."""
    return RequestContext(Principal(sub=sub, name=name, roles=frozenset({"admin"}),
                                    factories=frozenset({"*"}), domains=frozenset({"*"})),
                          factory_id, DomainScope(True, frozenset()), trace_id)
