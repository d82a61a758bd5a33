"""`make fuzz`: schemathesis against every service's OpenAPI document on the real stack.

Starts the whole set (crm_testing.Stack: PostgreSQL databases and a RabbitMQ vhost of its
own), then runs schemathesis on each service's `/openapi.json`, directly at the service,
with an admin token of a tenant of its own. Checks: no server error (5xx other than a
documented 503) and every response conforming to the schema the operation documents
(status code and body, error envelopes included). Prints one table and exits non-zero
when any check failed. Reports (JUnit, NDJSON) go to var/fuzz/<service>/.

    .venv/bin/python scripts/fuzz.py [--examples 100] [--seed 1] [--service customer ...]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "libs" / "crm_testing"))

import requests  # noqa: E402

from crm_testing import HTTP_SERVICES, Stack, make_token  # noqa: E402

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
FACTORY = "FUZZ"


def documented_operations(url: str) -> int:
    """How many operations the service's own document declares (what schemathesis must test)."""
    doc = requests.get(f"{url}/openapi.json", timeout=30).json()
    return sum(1 for item in doc.get("paths", {}).values() for method in item if method in HTTP_METHODS)


def run_service(name: str, url: str, *, examples: int, seed: int, out: Path, workers: int) -> dict:
    report = out / name
    report.mkdir(parents=True, exist_ok=True)
    token = make_token(roles=("admin",), factories=(FACTORY,), domains=("*",), ttl=6 * 3600)
    argv = [str(Path(sys.executable).parent / "st"), "run", f"{url}/openapi.json", "--url", url,
            "-H", f"Authorization: Bearer {token}", "-H", f"X-Factory-Id: {FACTORY}",
            "--checks", CHECKS, "--max-examples", str(examples), "--seed", str(seed),
            "--workers", str(workers), "--generation-database", "none", "--no-color",
            "--request-timeout", "30", "--report", "junit,ndjson", "--report-dir", str(report)]
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, cwd=report,  # its cache stays under var/fuzz
                          env={**os.environ, "NO_COLOR": "1"})
    (report / "output.txt").write_text(done.stdout + done.stderr, encoding="utf-8")
    summary = summarise(done.stdout + done.stderr)
    return {"service": name, "exit": done.returncode, "seconds": round(time.monotonic() - started, 1),
            "documented_operations": documented_operations(url), **summary,
            "tail": "\n".join((done.stdout + done.stderr).splitlines()[-25:])}


def summarise(output: str) -> dict:
    """Operations, test cases and failures from schemathesis' summary."""
    tested = re.search(r"Tested: (\d+)", output)
    cases = re.search(r"(\d+) generated, (\d+) passed(?:, (\d+) failed)?", output)
    failures = dict(re.findall(r"^\s*[❌✗]?\s*([a-z_]+(?:_error|_conformance|_rejection|_acceptance)):?\s+(\d+)",
                               output, re.M))
    return {"operations": int(tested.group(1)) if tested else "?",
            "cases": int(cases.group(1)) if cases else "?",
            "failed": int(cases.group(3) or 0) if cases else "?",
            "failures": {k: int(v) for k, v in failures.items()}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=int(os.environ.get("FUZZ_EXAMPLES", 100)))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("FUZZ_SEED", 1)))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--service", action="append", choices=sorted(HTTP_SERVICES))
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "fuzz")
    parser.add_argument("--json", type=Path, help="also write the table's rows to this file")
    args = parser.parse_args(argv)
    services = args.service or sorted(HTTP_SERVICES)
    rows = []
    with Stack(services=sorted(HTTP_SERVICES), workers=[], gateway=False,
               extra_env={"RATE_LIMITS": '{"default": null, "admin": null}'}) as stack:
        for name in services:
            rows.append(run_service(name, stack.url(name), examples=args.examples, seed=args.seed,
                                    out=args.out, workers=args.workers))
    print(f"\nschemathesis {args.examples} examples per operation, seed {args.seed}, checks {CHECKS}")
    print(f"{'service':<12} {'operations':>10} {'documented':>10} {'cases':>7} {'failed':>7}  {'by check':<44} "
          f"{'seconds':>8} exit")
    for row in rows:
        failures = ", ".join(f"{k}={v}" for k, v in sorted((row.get("failures") or {}).items())) or "-"
        print(f"{row['service']:<12} {row['operations']:>10} {row['documented_operations']:>10} {row['cases']:>7} "
              f"{row['failed']:>7}  "
              f"{failures:<44} {row['seconds']:>8} {row['exit']}")
    if args.json:
        args.json.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    failed = [row for row in rows if row["exit"] != 0]
    for row in failed:
        print(f"\n--- {row['service']} (var/fuzz/{row['service']}/output.txt) ---\n{row['tail']}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
