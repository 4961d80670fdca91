"""The OpenAPI description, completed, and ``/docs`` served from local assets (no CDN).

FastAPI derives paths and parameters from the routes; :func:`complete` adds what it cannot know:

* the CloudEvent envelope of every catalogued type (``components.schemas["<area>.<Name>.v<N>"]``, the
  catalogue's own JSON Schemas with their ``common/v1.json`` references bundled as
  ``components.schemas["common.v1.<Def>"]``) and ``CloudEvent``, one of them;
* the request body of ``POST /v1/events`` (one event or an array), with an example from the catalogue;
* response schemas of the routes that answer plain dicts (:data:`RESPONSES`), with examples;
* the security schemes: ``session`` (bearer token from sign-in, ``/v1/auth/*``) and ``dispatcher`` (bearer
  token from ``COALCHAIN_DISPATCHER_TOKENS``), applied by path prefix (:data:`SECURED`).

Swagger UI 5 (``static/swagger``, vendored from the npm package swagger-ui-dist with its licence) renders
OpenAPI 3.1 at ``/docs``; the assets are at ``/docs/assets/…``.
"""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, Response

COMMON_ID = "https://schemas.taijiao-coal.cn/common/v1.json"
ASSETS = {"swagger-ui-bundle.js": "text/javascript; charset=utf-8", "swagger-ui.css": "text/css; charset=utf-8"}

# path prefix -> security scheme (the first that matches)
SECURED = (("/v1/views", "dispatcher"), ("/v1/receipts", "session"), ("/v1/rejections", "session"),
           ("/v1/outcomes", "session"), ("/v1/auth/whoami", "session"))

HEX = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
UUID = {"type": "string", "format": "uuid"}
ERROR = {"type": "object", "properties": {"detail": {}, "errors": {"type": "array", "items": {
    "type": "object", "properties": {"index": {"type": ["integer", "null"]}, "path": {"type": "string"},
                                     "rule": {"type": "string"}, "message": {"type": "string"}}}}},
         "required": ["detail"]}
REJECTION = {"type": "object", "required": ["reason", "detail", "stage", "rejected_at", "envelope_sha256"],
             "properties": {
                 "event_id": {"type": ["string", "null"]}, "source": {"type": ["string", "null"]},
                 "type": {"type": ["string", "null"]}, "reason": {"type": "string", "examples": ["bad_signature"]},
                 "detail": {"type": "string"}, "errors": ERROR["properties"]["errors"],  # type: ignore[index]
                 "stage": {"type": "string"}, "rejected_at": {"type": "string", "format": "date-time"},
                 "sigkeyid": {"type": ["string", "null"]}, "signature": {"type": ["string", "null"]},
                 "envelope_sha256": {"type": ["string", "null"]},
                 "position": {"type": "object", "properties": {"partition": {"type": "integer"},
                                                               "offset": {"type": "integer"}}},
                 "seq": {"type": "integer"}}}
BLOCK = {"type": "object", "required": ["height", "header", "header_canonical", "header_hash", "signatures"],
         "properties": {"height": {"type": "integer"}, "header": {"type": "object"},
                        "header_canonical": {"type": "string"}, "header_hash": HEX,
                        "signatures": {"type": "array", "items": {"type": "object"}}}}
EVENT_STATUS = {"type": "object", "required": ["status", "event_id"], "properties": {
    "status": {"enum": ["sealed", "rejected", "pending"]}, "event_id": UUID,
    "event": {"$ref": "#/components/schemas/CloudEvent"}, "leaf_index": {"type": "integer"},
    "height": {"type": "integer"}, "leaf_hash": HEX, "proof": {"type": "string"}, "block": {"type": "string"},
    "reason": {"type": "string"}, "detail": {"type": "string"}, "errors": ERROR["properties"]["errors"],  # type: ignore[index]
    "stage": {"type": "string"}, "rejected_at": {"type": "string"},
    "rejections": {"type": "array", "items": REJECTION}}}
INCLUSION = {"type": "object", "required": ["event_id", "leaf_index", "tree_size", "leaf_hash", "root", "proof"],
             "properties": {"event_id": UUID, "leaf_index": {"type": "integer"}, "tree_size": {"type": "integer"},
                            "leaf_hash": HEX, "root": HEX, "proof": {"type": "array", "items": HEX}}}
CONSISTENCY = {"type": "object", "required": ["first", "second", "first_root", "second_root", "proof"],
               "properties": {"first": {"type": "integer"}, "second": {"type": "integer"}, "first_root": HEX,
                              "second_root": HEX, "proof": {"type": "array", "items": HEX}}}
ACCEPTED = {"type": "object", "required": ["accepted_for_validation"],
            "properties": {"accepted_for_validation": {"type": "array", "items": UUID}}}

# (method, path) -> {status: schema}: the answers of routes that return plain dicts
RESPONSES: dict[tuple[str, str], dict[str, dict[str, Any]]] = {
    ("post", "/v1/events"): {"202": ACCEPTED, "400": ERROR, "413": ERROR, "422": ERROR, "503": ERROR},
    ("get", "/v1/events/{event_id}"): {"200": EVENT_STATUS, "422": ERROR},
    ("get", "/v1/blocks/latest"): {"200": BLOCK, "404": ERROR},
    ("get", "/v1/blocks/{height}"): {"200": BLOCK, "404": ERROR},
    ("get", "/v1/proofs/inclusion"): {"200": INCLUSION, "404": ERROR, "422": ERROR},
    ("get", "/v1/proofs/consistency"): {"200": CONSISTENCY, "422": ERROR},
    ("get", "/v1/rejections"): {"200": {"type": "object", "required": ["source", "rejections", "next_after"],
                                        "properties": {"source": {"type": "string"},
                                                       "rejections": {"type": "array", "items": REJECTION},
                                                       "next_after": {"type": "integer"}}},
                                "401": ERROR, "403": ERROR},
    ("post", "/v1/auth/challenge"): {"200": {"type": "object", "required": ["participant", "challenge", "message",
                                                                         "expires_at"],
                                            "properties": {"participant": {"type": "string"},
                                                           "challenge": {"type": "string"},
                                                           "message": {"type": "string"},
                                                           "expires_at": {"type": "integer"}}}},
    ("post", "/v1/auth/session"): {"200": {"type": "object",
                                          "required": ["token", "participant", "roles", "expires_at"],
                                          "properties": {"token": {"type": "string"},
                                                         "participant": {"type": "string"},
                                                         "roles": {"type": "array", "items": {"type": "string"}},
                                                         "expires_at": {"type": "integer"}}}, "401": ERROR},
    ("get", "/v1/auth/whoami"): {"200": {"type": "object", "required": ["participant", "roles", "expires_at"],
                                        "properties": {"participant": {"type": "string"},
                                                       "roles": {"type": "array", "items": {"type": "string"}},
                                                       "expires_at": {"type": "integer"}}}, "401": ERROR},
    ("get", "/healthz"): {"200": {"type": "object", "required": ["ok", "checks"],
                                  "properties": {"ok": {"type": "boolean"}, "checks": {"type": "object"}}}},
}
TEXT_RESPONSES = {("get", "/v1/checkpoint"): "a C2SP signed note (tlog-checkpoint)",
                  ("get", "/v1/outcomes/stream"): "Server-Sent Events `sealed` and `rejected`"}


def _rewrite(node: Any) -> Any:
    """Catalogue schema -> OpenAPI component: common references bundled, ``$id``/``$schema`` dropped."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k in ("$id", "$schema"):
                continue
            if k == "$ref" and isinstance(v, str) and v.startswith(COMMON_ID + "#/$defs/"):
                out[k] = "#/components/schemas/common.v1." + v.rsplit("/", 1)[1]
            else:
                out[k] = _rewrite(v)
        return out
    if isinstance(node, list):
        return [_rewrite(v) for v in node]
    return node


def catalogue_components() -> tuple[dict[str, Any], dict[str, Any]]:
    """(components.schemas of the catalogue, an example event)."""
    import schemas

    common = json.loads(resources.files("schemas").joinpath("definitions", "common.v1.json").read_text("utf-8"))
    out: dict[str, Any] = {f"common.v1.{name}": _rewrite(d) for name, d in common["$defs"].items()}
    names = []
    for entry in schemas.catalogue():
        name = f"{entry.area}.{entry.name}.v{entry.version}"
        out[name] = _rewrite(copy.deepcopy(entry.schema))
        names.append(name)
    out["CloudEvent"] = {"title": "A signed CloudEvent of the catalogue (JSON structured mode)",
                         "oneOf": [{"$ref": f"#/components/schemas/{n}"} for n in names]}
    example = json.loads(resources.files("schemas").joinpath("examples", "valid",
                                                             "inventory.StockReported.json").read_text("utf-8"))
    return out, example


def complete(spec: dict[str, Any]) -> dict[str, Any]:
    components = spec.setdefault("components", {})
    schemas_, example = catalogue_components()
    components.setdefault("schemas", {}).update(schemas_)
    components["securitySchemes"] = {
        "session": {"type": "http", "scheme": "bearer", "description": "session token of a participant: POST"
                    " /v1/auth/challenge, sign its message, POST /v1/auth/session"},
        "dispatcher": {"type": "http", "scheme": "bearer", "description": "a COALCHAIN_DISPATCHER_TOKENS token"},
    }
    for path, operations in spec.get("paths", {}).items():
        for method, op in operations.items():
            scheme = next((s for prefix, s in SECURED if path.startswith(prefix)), None)
            if scheme:
                op["security"] = [{scheme: []}]
            for status, schema in RESPONSES.get((method, path), {}).items():
                answer = op.setdefault("responses", {}).setdefault(status, {"description": status})
                answer["content"] = {"application/json": {"schema": schema}}
                answer.setdefault("description", status)
                if answer["description"] in ("", "Successful Response"):
                    answer["description"] = "OK"
            if (method, path) in TEXT_RESPONSES or path.endswith("/stream"):
                media = "text/event-stream" if path.endswith("/stream") else "text/plain"
                what = TEXT_RESPONSES.get((method, path), "Server-Sent Events")
                op.setdefault("responses", {})["200"] = {"description": what,
                                                         "content": {media: {"schema": {"type": "string"}}}}
            if path.endswith(".csv"):
                op.setdefault("responses", {})["200"] = {"description": "CSV (UTF-8, header row)", "content": {
                    "text/csv": {"schema": {"type": "string"}}}}
            for answer in op.get("responses", {}).values():  # FastAPI leaves bare `{}` for the 4xx it declares
                answer.setdefault("description", "error")
    post = spec.get("paths", {}).get("/v1/events", {}).get("post")
    if post is not None:
        post["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"oneOf": [{"$ref": "#/components/schemas/CloudEvent"},
                                 {"type": "array", "minItems": 1, "maxItems": 1000,
                                  "items": {"$ref": "#/components/schemas/CloudEvent"}}]},
            "examples": {"one event": {"value": example}, "an array": {"value": [example]}}}}}
        post["responses"]["202"]["content"]["application/json"]["example"] = {
            "accepted_for_validation": [example["id"]]}
    return spec


def install(app: FastAPI) -> None:
    """Completed ``/openapi.json``; ``/docs`` with local Swagger UI assets. Create the app with ``docs_url=None``."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(get_openapi(title=app.title, version=app.version,
                                                      description=app.description, routes=app.routes))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} — API",
                                   swagger_js_url="/docs/assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs/assets/swagger-ui.css", swagger_favicon_url="data:,")

    @app.get("/docs/assets/{name}", include_in_schema=False)
    async def asset(name: str) -> Response:
        if name not in ASSETS:
            raise HTTPException(404, f"no asset {name}")
        body = resources.files("services.api").joinpath("static", "swagger", name).read_bytes()
        return Response(body, media_type=ASSETS[name], headers={"Cache-Control": "public, max-age=86400"})
