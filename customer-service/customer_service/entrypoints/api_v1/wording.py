"""How /api/v1 words refusals (seeds 000, 003, 004): the seed's business error codes
(``CUSTOMER_DUPLICATED`` for any identity taken, ``CUSTOMER_NOT_FOUND`` for unknown members), the
domain's default messages, snake_case field names."""
from __future__ import annotations

from ..wording import Say, Wording

DUPLICATED = Say(code="CUSTOMER_DUPLICATED")

V1 = Wording({
    "CUSTOMER_NAME_TAKEN": DUPLICATED,
    "CUSTOMER_CODE_TAKEN": DUPLICATED,
    "CUSTOMER_USER_ID_TAKEN": DUPLICATED,
    "CUSTOMER_ALREADY_IMPORTED": DUPLICATED,
    "MEMBERS_NOT_FOUND": Say(code="CUSTOMER_NOT_FOUND"),
}, fields={"external_user_id": "user_id"})
