"""The receiver-side helper in README.md works as printed: this test runs exactly the
code block after the ``receiver-snippet`` marker against signatures made by the service."""
from __future__ import annotations

import re
import time
from pathlib import Path

from webhook_service.domain.signing import signature_header

README = Path(__file__).resolve().parents[2] / "README.md"
BODY = '{"event_id":"6f1c","event_type":"customer.updated","data":{"name":"上海普全公司"}}'.encode()


def readme_snippet() -> str:
    match = re.search(r"<!-- receiver-snippet[^>]*-->\n```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert match, "README.md lost its receiver snippet"
    return match.group(1)


def load_verifier():
    snippet = readme_snippet()
    assert len([line for line in snippet.splitlines() if line.strip()]) <= 12  # "in about ten lines"
    namespace: dict = {}
    exec(compile(snippet, str(README), "exec"), namespace)  # noqa: S102 - our own README
    return namespace["verify_crm_signature"]


def test_the_readme_snippet_accepts_a_fresh_signature_of_the_service():
    verify = load_verifier()
    assert verify("whsec_k", BODY, signature_header("whsec_k", BODY, int(time.time())))


def test_the_readme_snippet_refuses_tampering_other_secrets_stale_timestamps_and_garbage():
    verify = load_verifier()
    now = int(time.time())
    header = signature_header("whsec_k", BODY, now)
    assert not verify("whsec_k", BODY.replace(b"6f1c", b"6f1d"), header)
    assert not verify("whsec_other", BODY, header)
    assert not verify("whsec_k", BODY, signature_header("whsec_k", BODY, now - 301))
    assert verify("whsec_k", BODY, signature_header("whsec_k", BODY, now - 290))
    for garbage in ("", "t=,v1=", "v1=abc", "t=abc,v1=abc", "nonsense"):
        assert not verify("whsec_k", BODY, garbage)
