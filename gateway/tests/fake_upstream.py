"""A small stand-in service for the gateway tests (served by gunicorn in its own process):
slow answers, big streamed bodies, uploads it counts, an echo of what arrived, and an
OpenAPI document whose component names collide with customer-service's.

``FAKE_NAME`` (env) says which service it plays; every answer names it."""
from __future__ import annotations

import hashlib
import os
import time

from flask import Flask, Response, jsonify, request

CHUNK = 64 * 1024
CALLS: dict[str, int] = {}  # ?key=... -> how many requests arrived (one worker process)


def create_app() -> Flask:
    app = Flask("fake_upstream")
    name = os.environ.get("FAKE_NAME", "fake")

    @app.get("/healthz")
    @app.get("/readyz")
    def ready():
        return {"status": "ready", "service": name}

    @app.get("/openapi.json")
    def openapi():
        return jsonify(openapi_document(name))

    @app.route("/<path:path>", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
    def anything(path):
        action = path.rsplit("/", 1)[-1]
        if action == "calls":
            return {"calls": CALLS.get(request.args["key"], 0)}
        key = request.args.get("key")
        if key:
            CALLS[key] = CALLS.get(key, 0) + 1
        if action == "slow":
            time.sleep(float(request.args.get("seconds", "3")))
            return {"served_by": name, "slow": True}
        if action == "big":
            size = int(float(request.args.get("mb", "20")) * 1024 * 1024)
            return Response(_blocks(size), mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                            headers={"Content-Disposition": "attachment; filename*=UTF-8''%E5%AE%A2%E6%88%B7.xlsx",
                                     "Content-Length": str(size), "ETag": '"big-1"'})
        if action == "broken":  # promises 1 MiB, sends 64 KiB, then the connection drops
            def broken():
                yield b"b" * CHUNK
                raise ConnectionAbortedError("the service died mid-answer")
            return Response(broken(), mimetype="application/octet-stream",
                            headers={"Content-Length": str(16 * CHUNK)})
        if action == "upload":
            digest, total = hashlib.sha256(), 0
            try:
                while True:
                    block = request.stream.read(CHUNK)
                    if not block:
                        break
                    digest.update(block)
                    total += len(block)
            except Exception as exc:  # noqa: BLE001 - the gateway cut the body off (413 test)
                return {"served_by": name, "incomplete": type(exc).__name__, "bytes": total}, 400
            return {"served_by": name, "bytes": total, "sha256": digest.hexdigest(),
                    "content_length": request.headers.get("Content-Length"),
                    "transfer_encoding": request.headers.get("Transfer-Encoding")}
        if action == "created":
            resp = jsonify({"served_by": name})
            resp.status_code = 201
            resp.headers["Location"] = request.host_url.rstrip("/") + "/api/external/viewing-records/7"
            resp.headers["Retry-After"] = "3"
            resp.headers.add("Set-Cookie", "a=1; Path=/")
            resp.headers.add("Set-Cookie", "b=2; Path=/")
            return resp
        return {
            "served_by": name,
            "method": request.method,
            "path": request.path,
            "raw_uri": request.environ.get("RAW_URI"),
            "query_string": request.environ.get("QUERY_STRING"),
            "args": request.args.to_dict(flat=False),
            "headers": dict(request.headers),
        }

    return app


def _blocks(size: int):
    block = b"x" * CHUNK
    sent = 0
    while sent < size:
        part = block[: min(CHUNK, size - sent)]
        sent += len(part)
        yield part


def openapi_document(name: str) -> dict:
    """Paths of both the viewing and the analytics surface (the gateway keeps only those it
    routes to the service playing ``name``), and a ``V1Error`` that differs from
    customer-service's."""
    error_ref = {"$ref": "#/components/schemas/V1Error"}
    return {
        "openapi": "3.0.3",
        "info": {"title": name, "version": "1"},
        "security": [{"bearerAuth": []}],
        "paths": {
            "/healthz": {"get": {"responses": {"200": {"description": "alive"}}}},
            "/api/external/viewing-records/{userId}": {"get": {
                "tags": ["viewing"], "operationId": "listViewings",
                "parameters": [{"name": "userId", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "ok", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/ViewingPage"}}}},
                              "401": {"description": "no token", "content": {"application/json": {"schema": error_ref}}}}}},
            "/api/external/statistics": {"get": {
                "tags": ["statistics"], "operationId": "statistics",
                "responses": {"200": {"description": "ok"},
                              "401": {"description": "no token", "content": {"application/json": {"schema": error_ref}}}}}},
            "/api/mobile/{factoryId}/customers/vip": {"get": {
                "tags": ["statistics"], "operationId": "vipCustomers",
                "parameters": [{"name": "factoryId", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "ok"}}}},
        },
        "components": {
            "schemas": {
                "V1Error": {"type": "object", "properties": {"reason": {"type": "string"}}},
                "ViewingPage": {"type": "object", "properties": {
                    "items": {"type": "array", "items": {"type": "object"}}, "error": error_ref}},
            },
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
        "tags": [{"name": "viewing"}, {"name": "statistics"}],
    }
