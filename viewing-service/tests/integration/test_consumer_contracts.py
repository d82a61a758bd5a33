"""Consumer-driven contracts (issue 23): every call another service records in
``<consumer>/contracts/pacts/viewing-service.json`` (analytics-service's rebuild snapshot) is
replayed against viewing-service's real app and database, with its provider state set up here
(crm_testing.http_contracts; format in the README)."""
from __future__ import annotations

import uuid

from crm_testing.http_contracts import pacts_for, replay_all

RECORD = {"botId": "bot_002", "customer_name": "李四", "customer_phone": "13900139000",
          "viewing_time": "2024-08-15T14:00:00.000Z", "property_name": "万科城", "property_address": "1栋2单元301室",
          "room_type": "two_bedroom", "room_tag": "loft", "viewer_name": "external", "viewing_status": 2,
          "commission": 3000, "viewing_feedback": 1, "business_type": "whole_rent"}


def test_every_consumers_recorded_calls_are_answered_as_they_expect(client, headers_for):
    def a_viewing_record_exists(factory):
        made = client.post("/api/external/viewing-records", json={**RECORD, "userId": f"pact-{uuid.uuid4().hex[:8]}"},
                           headers=headers_for(factories=[factory]))
        assert made.status_code in (200, 201), made.get_json()
        return {"after_id": made.get_json()["data"]["viewing_record_id"] - 1}

    assert {pact["consumer"] for pact in pacts_for("viewing-service")} >= {"analytics-service"}
    assert replay_all(client, "viewing-service", {"a viewing record exists": a_viewing_record_exists},
                      lambda: f"F{uuid.uuid4().hex[:8].upper()}") >= 1
