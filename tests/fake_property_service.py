"""A stand-in for the third-party property-information service (PROPERTY_LOOKUP_URL), run
as a real process by the tests: ``python tests/fake_property_service.py --port N``.

``GET /properties?property_name=…&property_address=…`` answers ``{"success": true, "data":
{...}}`` with the seed's camelCase property fields. Its behaviour is switched at run time
with ``POST /_mode {"mode": "ok" | "slow" | "error" | "empty"}`` (slow: answers after
``SLOW_SECONDS``; error: 500; empty: no property found). "down" is the process stopped.
``GET /_requests`` lists the lookups received; ``DELETE /_requests`` clears them."""
from __future__ import annotations

import argparse
import threading
import time

from flask import Flask, jsonify, request

SLOW_SECONDS = 10.0

# The seed's own example (万科城): the six fields of its `external_property_data`.
KNOWN = {
    "万科城": {"propertyAddrId": 789, "housingId": 101, "cityName": "深圳市", "houseAreaName": "南山区",
              "advisorName": "王顾问", "companyName": "万科地产"},
}


def property_for(name: str, address: str | None) -> dict:
    if name in KNOWN:
        return dict(KNOWN[name])
    seed = sum(ord(ch) for ch in name + (address or "")) % 1000
    return {"propertyAddrId": 1000 + seed, "housingId": 2000 + seed, "houseAreaId": 3000 + seed,
            "houseAreaName": "福田区", "cityId": 440300, "cityName": "深圳市", "unitType": "2室1厅",
            "longitude": "114.0579", "latitude": "22.5431", "advisorName": "李顾问",
            "companyName": "链家", "companyAbbreviation": "链家", "houseTypeId": 601}


def create_app() -> Flask:
    app = Flask("fake-property-service")
    app.json.ensure_ascii = False
    state = {"mode": "ok", "requests": []}
    lock = threading.Lock()

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.post("/_mode")
    def set_mode():
        mode = (request.get_json(silent=True) or {}).get("mode")
        if mode not in ("ok", "slow", "error", "empty"):
            return {"error": "mode must be ok, slow, error or empty"}, 400
        state["mode"] = mode
        return {"mode": mode}

    @app.get("/_requests")
    def seen():
        with lock:
            return jsonify(list(state["requests"]))

    @app.delete("/_requests")
    def forget():
        with lock:
            state["requests"].clear()
        return {"cleared": True}

    @app.get("/properties")
    def lookup():
        name = request.args.get("property_name", "")
        address = request.args.get("property_address")
        with lock:
            state["requests"].append({"property_name": name, "property_address": address,
                                      "trace_id": request.headers.get("X-Trace-Id")})
        mode = state["mode"]
        if mode == "slow":
            time.sleep(SLOW_SECONDS)
        if mode == "error":
            return {"success": False, "message": "internal error"}, 500
        if mode == "empty":
            return {"success": True, "data": None}
        return {"success": True, "data": property_for(name, address)}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    from werkzeug.serving import run_simple
    run_simple("127.0.0.1", args.port, create_app(), threaded=True)


if __name__ == "__main__":
    main()
