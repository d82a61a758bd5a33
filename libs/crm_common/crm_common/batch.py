"""One rule for every batch endpoint (seed 000's bulk API, sync-worker's batch sync):
what status a batch answers for its records' outcomes."""
from __future__ import annotations

# code 2070 goes with 207 in the /api/v1 envelope (crm_common.envelopes.v1_code)
PARTIAL = 207


def batch_status(succeeded: int, failed: int, *, success_status: int = 200) -> int:
    """``success_status`` (201 for creates, 200 otherwise) when every record succeeded, 207
    when some did and some did not, 400 when every record failed (seed 000: 全部失败 is a
    client error, code 4000; nothing was done). An empty batch is refused before this."""
    if failed == 0:
        return success_status
    if succeeded == 0:
        return 400
    return PARTIAL
