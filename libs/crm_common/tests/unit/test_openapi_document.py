"""What generated clients read from a service's OpenAPI document (issue 22), no I/O:
envelopes keep their payload typed (a nullable ``data`` is ``allOf [$ref] + nullable``,
never an ``anyOf`` whose bare-object branch swallows the model)."""
from __future__ import annotations

import json

import marshmallow as ma
from flask.views import MethodView

from crm_common import authz
from crm_common.config import Settings
from crm_common.envelopes import Surface, envelope_schema
from crm_common.web import Blueprint, create_base_app, finish_app, reply

SECRET = "unit-secret-0123456789-0123456789-abcd"


class ThingSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    parent = ma.fields.Nested(lambda: ThingSchema(only=("id",)), allow_none=True)
    level = ma.fields.String(allow_none=True, validate=ma.validate.OneOf(["vip", "normal"]))


def document() -> dict:
    app, api = create_base_app(Settings.from_env("customer", {"JWT_SECRET": SECRET}), title="t")
    blp = Blueprint("things", __name__, url_prefix="/api/v1/things")

    @blp.route("/<int:thing_id>")
    class Thing(MethodView):
        @blp.response(200, envelope_schema(Surface.V1, ThingSchema))
        @blp.doc(operationId="getThing")
        @authz.authorize("customer.read")
        def get(self, thing_id):
            """One thing."""
            return reply({"id": thing_id})

    @blp.route("")
    class Things(MethodView):
        @blp.response(200, envelope_schema(Surface.MOBILE, ThingSchema, many=True))
        @blp.doc(operationId="listThings")
        @authz.authorize("customer.read")
        def get(self):
            """All things."""
            return reply([])

    api.register_blueprint(blp)
    finish_app(app)
    return app.test_client().get("/openapi.json").get_json()


def test_nullable_payloads_keep_their_schema():
    doc = document()
    schemas = doc["components"]["schemas"]
    data = schemas["V1ThingEnvelope"]["properties"]["data"]
    assert data == {"allOf": [{"$ref": "#/components/schemas/Thing"}], "nullable": True}
    listed = schemas["MobileThingListEnvelope"]["properties"]["data"]
    assert listed["type"] == "array" and listed["items"] == {"$ref": "#/components/schemas/Thing"}
    assert schemas["Thing"]["properties"]["parent"]["nullable"] is True
    assert '"anyOf"' not in json.dumps(doc)


def test_a_nullable_choice_is_one_enum_or_null():
    level = document()["components"]["schemas"]["Thing"]["properties"]["level"]
    assert level == {"oneOf": [{"type": "string", "enum": ["vip", "normal"]}], "nullable": True}
