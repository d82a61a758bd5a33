"""Customer group rules (seed 003 ManageCustomerGroupUseCase), no database: a group
holds customers of its own business domain only, and at most ``max_member`` of them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

MAX_MEMBERS_PER_REQUEST = 1000


def unique_ids(ids: Iterable[int]) -> list[int]:
    """The ids in the order given, each once."""
    seen: set[int] = set()
    out = []
    for value in ids:
        if value not in seen:
            seen.add(value)
            out.append(value)
    return out


@dataclass(frozen=True)
class MembershipCheck:
    missing: tuple[int, ...]   # not found (or not visible to the caller)
    foreign: tuple[int, ...]   # customers of another business domain
    over_limit: bool
    limit: int | None

    @property
    def ok(self) -> bool:
        return not (self.missing or self.foreign or self.over_limit)


def check_membership(group_domain: str, max_member: int | None, requested: Iterable[int],
                     domains_by_id: Mapping[int, str]) -> MembershipCheck:
    """Judge a replacement member set: ``domains_by_id`` maps each customer found to its
    business domain."""
    ids = unique_ids(requested)
    missing = tuple(i for i in ids if i not in domains_by_id)
    foreign = tuple(i for i in ids if i in domains_by_id and domains_by_id[i] != group_domain)
    over = max_member is not None and len(ids) > max_member
    return MembershipCheck(missing, foreign, over, max_member)
