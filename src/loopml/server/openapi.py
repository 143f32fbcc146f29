"""The server's OpenAPI 3.1 document, derived from the operations table and their signatures.

Every operation is ``POST /api/v1/ops/<name>`` with its parameters as a JSON object;
``x-loopml-role`` names the role each path needs (the role-matrix test walks it).
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from .. import __version__, wire
from ..ops import Operation, Role

_REF = "#/components/schemas/{model}"
_ERROR_STATUSES = {
    "400": "malformed input (the message names the field)",
    "401": "missing, unknown, revoked or expired token",
    "403": "the token's role may not do this",
    "404": "the named object does not exist",
    "409": "the request contradicts the stored state",
    "413": "the body is over the server's limit",
    "422": "a gate, step or prediction failed",
    "503": "the store cannot be used right now",
}

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "hint": {"type": ["string", "null"]},
                "details": {"type": "object"},
            },
        }
    },
}


def _errors() -> dict[str, Any]:
    return {
        status: {
            "description": text,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for status, text in _ERROR_STATUSES.items()
    }


def _lift(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    for name, definition in schema.pop("$defs", {}).items():
        components.setdefault(name, definition)
    return schema


def _operation_path(op: Operation, components: dict[str, Any]) -> dict[str, Any]:
    model = wire.params_model(op)
    params = _lift(model.model_json_schema(ref_template=_REF), components)
    components[model.__name__] = params
    result_type = wire.hints(op).get("return", Any)
    result = _lift(
        TypeAdapter(result_type).json_schema(ref_template=_REF, mode="serialization"),
        components,
    )
    return {
        "post": {
            "operationId": op.name,
            "summary": op.summary,
            "tags": [op.name.split(".")[0]],
            "x-loopml-role": op.role,
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": _REF.format(model=model.__name__)}}
                },
            },
            "responses": {
                "200": {
                    "description": "the operation's result",
                    "content": {"application/json": {"schema": result}},
                },
                **_errors(),
            },
        }
    }


def _route(method: str, summary: str, role: Role | None, **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "summary": summary,
        "operationId": extra.pop("operation_id"),
        "responses": {"200": {"description": "OK"}, **_errors()},
        **extra,
    }
    if role is None:
        entry["security"] = []
    else:
        entry["x-loopml-role"] = role
    return {method: entry}


_HASH = {"name": "hash", "in": "path", "required": True, "schema": {"type": "string"}}


def build_document(operations: dict[str, Operation]) -> dict[str, Any]:
    """The whole document: operations, uploads, blobs and the small fixed routes."""
    components: dict[str, Any] = {"Error": ERROR_SCHEMA}
    paths: dict[str, Any] = {}
    for name in sorted(operations):
        paths[f"/api/v1/ops/{name}"] = _operation_path(operations[name], components)
    paths["/api/v1/whoami"] = _route(
        "get", "The caller's user and role", "reader", operation_id="whoami"
    )
    upload_body = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["hash", "size"],
                    "properties": {
                        "hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                        "size": {"type": "integer", "minimum": 0},
                    },
                }
            }
        },
    }
    paths["/api/v1/uploads"] = _route(
        "post",
        "Open (or find again) the upload of a blob with this hash and size",
        "writer",
        operation_id="uploads.open",
        requestBody=upload_body,
    )
    paths["/api/v1/uploads/{hash}"] = {
        **_route(
            "get",
            "How far an upload got",
            "writer",
            operation_id="uploads.status",
            parameters=[_HASH],
        ),
        **_route(
            "patch",
            "Append the bytes that start at Upload-Offset",
            "writer",
            operation_id="uploads.append",
            parameters=[
                _HASH,
                {
                    "name": "Upload-Offset",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^[0-9]+$"},
                },
            ],
            requestBody={
                "required": True,
                "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                },
            },
        ),
    }
    paths["/api/v1/uploads/{hash}/finish"] = _route(
        "post",
        "Check the upload's size and hash and publish the blob",
        "writer",
        operation_id="uploads.finish",
        parameters=[_HASH],
    )
    paths["/api/v1/blobs/{hash}"] = _route(
        "get",
        "A blob's bytes (Range: bytes=N- resumes)",
        "reader",
        operation_id="blobs.get",
        parameters=[_HASH],
    )
    paths["/health"] = _route("get", "Liveness", None, operation_id="health")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "loopml server",
            "version": __version__,
            "description": "Every loopml service operation over HTTP; errors in one JSON shape.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
