"""The scoring server's OpenAPI 3.0 document (served at ``/openapi.json``)."""

from __future__ import annotations

from typing import Any

_ERROR = {"$ref": "#/components/schemas/Error"}


def _errors(*codes: int) -> dict[str, Any]:
    return {
        str(code): {
            "description": _REASONS[code],
            "content": {"application/json": {"schema": _ERROR}},
        }
        for code in codes
    }


_REASONS = {
    400: "Malformed request: the error names the field or column",
    404: "Unknown model, version or prediction id",
    413: "Body over the size limit",
    415: "Unsupported content type",
    422: "The model failed on input that passed its signature",
    503: "The model is still loading",
}


def _ok(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    content = {"application/json": {"schema": schema or {"type": "object"}}}
    return {"200": {"description": description, "content": content}}


def _get(summary: str, *errors: int) -> dict[str, Any]:
    return {"get": {"summary": summary, "responses": {**_ok(summary), **_errors(*errors)}}}


_NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
_VERSION = {"name": "version", "in": "path", "required": True, "schema": {"type": "string"}}
_INFER = {
    "summary": "Score rows (Open Inference Protocol v2)",
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/InferenceRequest"}}
        },
    },
    "responses": {**_ok("Predictions"), **_errors(400, 404, 413, 415, 422, 503)},
}

_TENSOR = {
    "type": "object",
    "required": ["name", "shape", "datatype", "data"],
    "properties": {
        "name": {"type": "string"},
        "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        "datatype": {
            "type": "string",
            "enum": ["BOOL", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64", "BYTES"],
        },
        "data": {"type": "array"},
        "parameters": {"type": "object"},
    },
}


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "loopml scoring server",
            "version": "1",
            "description": "Open Inference Protocol v2, MLflow /invocations, Prometheus "
            "/metrics and prediction feedback. Errors share one shape.",
        },
        "paths": {
            "/v2/health/live": _get("Liveness"),
            "/v2/health/ready": _get("Readiness: 503 until the model is loaded", 503),
            "/v2": _get("Server metadata"),
            "/v2/models/{name}": {
                "parameters": [_NAME],
                **_get("Model metadata: inputs from the signature", 404, 503),
            },
            "/v2/models/{name}/ready": {"parameters": [_NAME], **_get("Model readiness", 503)},
            "/v2/models/{name}/infer": {"parameters": [_NAME], "post": _INFER},
            "/v2/models/{name}/versions/{version}/infer": {
                "parameters": [_NAME, _VERSION],
                "post": _INFER,
            },
            "/invocations": {
                "post": {
                    "summary": "Score rows (MLflow scoring server format)",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/Invocations"}
                            },
                            "text/csv": {"schema": {"type": "string"}},
                        },
                    },
                    "responses": {**_ok("Predictions"), **_errors(400, 413, 415, 422, 503)},
                }
            },
            "/ping": _get("Health (SageMaker)", 503),
            "/health": _get("Health (MLflow)", 503),
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "responses": {
                        "200": {
                            "description": "Text exposition format",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
            "/feedback": {
                "post": {
                    "summary": "Ground truth for logged predictions",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "oneOf": [
                                        {"$ref": "#/components/schemas/Feedback"},
                                        {
                                            "type": "array",
                                            "items": {"$ref": "#/components/schemas/Feedback"},
                                        },
                                    ]
                                }
                            }
                        },
                    },
                    "responses": {**_ok("Labels stored"), **_errors(400, 404, 413, 415)},
                }
            },
            "/deployment": _get("What this server serves now", 503),
        },
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message", "hint", "details"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "hint": {"type": "string", "nullable": True},
                                "details": {"type": "object"},
                            },
                        }
                    },
                },
                "InferenceRequest": {
                    "type": "object",
                    "required": ["inputs"],
                    "properties": {
                        "id": {"type": "string"},
                        "parameters": {"type": "object"},
                        "inputs": {"type": "array", "items": _TENSOR, "minItems": 1},
                        "outputs": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["name"],
                                "properties": {"name": {"type": "string"}},
                            },
                        },
                    },
                },
                "Invocations": {
                    "type": "object",
                    "description": "Exactly one of dataframe_split, dataframe_records, "
                    "instances or inputs",
                    "properties": {
                        "dataframe_split": {
                            "type": "object",
                            "properties": {
                                "columns": {"type": "array", "items": {"type": "string"}},
                                "data": {"type": "array", "items": {"type": "array"}},
                            },
                        },
                        "dataframe_records": {"type": "array", "items": {"type": "object"}},
                        "instances": {"type": "array"},
                        "inputs": {},
                        "params": {"type": "object"},
                    },
                },
                "Feedback": {
                    "type": "object",
                    "required": ["id", "label"],
                    "properties": {
                        "id": {"type": "string"},
                        "label": {"oneOf": [{"type": "number"}, {"type": "string"}]},
                    },
                },
            }
        },
    }
