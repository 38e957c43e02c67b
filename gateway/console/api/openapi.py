"""`GET /api/v1/openapi.json` (console.md "JSON API", issue 17): a hand-written OpenAPI 3.1
document, small on purpose. tests/console/test_api_openapi.py checks that every /api/v1 route
is documented and every documented path exists, and validates sample answers against the
schemas here."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from gateway.console.api import openapi_more
from gateway.console.views import api_view
from gateway.models import OutboxStatus

DATE = {"type": ["string", "null"], "format": "date"}
MOMENT = {"type": ["string", "null"], "format": "date-time"}
TEXT = {"type": ["string", "null"]}
AMOUNT = {"type": "integer", "description": "whole XOF (D2)"}


def _object(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required or list(properties)}


def _list_of(ref: str) -> dict[str, Any]:
    return _object(
        {
            "items": {"type": "array", "items": {"$ref": f"#/components/schemas/{ref}"}},
            "next": {"type": ["string", "null"], "description": "cursor of the next page"},
        }
    )


MEMBER = _object(
    {"number": {"type": "string"}, "status": {"type": "string"}, "until": DATE, "from": DATE},
)
BENEFICIARY = _object(
    {
        "number": {"type": "string"},
        "name": {"type": "string"},
        "sex": {"type": "string"},
        "birth_date": DATE,
        "relationship": {"type": "string"},
        "register_status": {"type": "string"},
        "status_reason": TEXT,
        "enrolled_on": DATE,
        "left_on": DATE,
    }
)
HOUSEHOLD = _object(
    {
        "number": {"type": "string"},
        "kind": {"const": "household"},
        "mutual": {"type": "string"},
        "status": {"enum": ["UP_TO_DATE", "NOT_UP_TO_DATE"]},
        "until": DATE,
        "from": DATE,
        "on": {"type": "string", "format": "date"},
        "household": {"type": "string"},
        "amount_due": AMOUNT,
        "renewal_amount": AMOUNT,
        "credit": AMOUNT,
        "offered": {"type": "object"},
        "members": {"type": "array", "items": {"$ref": "#/components/schemas/Member"}},
        "beneficiaries": {"type": "array", "items": {"$ref": "#/components/schemas/Beneficiary"}},
    }
)
PAYMENT = _object(
    {
        "id": {"type": "integer"},
        "mutual": {"type": "string"},
        "household": {"type": "string"},
        "amount": AMOUNT,
        "paid_on": {"type": "string", "format": "date"},
        "channel": {"enum": ["cash", "mobile", "bank", "legacy"]},
        "reference": {"type": "string"},
        "state": {"enum": ["received", "held", "released"]},
        "hold_reason": TEXT,
        "released_at": MOMENT,
        "created_at": {"type": "string", "format": "date-time"},
    }
)
SMS = _object(
    {
        "id": {"type": "integer"},
        "mutual_id": {"type": "integer"},
        "household_id": {"type": ["integer", "null"]},
        "phone": {"type": "string", "description": "masked (D27)"},
        "template": {"type": "string"},
        "language": {"type": "string"},
        "reason": {"type": "string"},
        "status": {"enum": [s.value for s in OutboxStatus]},
        "attempts": {"type": "integer"},
        "text": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
        "sent_at": MOMENT,
    }
)
ERROR = _object({"error": {"type": "string"}, "reason": {"type": "string"}}, ["error", "reason"])
ERROR["properties"]["fields"] = {
    "type": "object",
    "additionalProperties": {"type": "string"},
    "description": "what is wrong with each bad field (400)",
}
EVENT_TYPES = [
    "add-dependant", "depart", "death", "reenrol", "change-head", "category", "product",
    "suspend", "lift", "correct",
]  # fmt: skip
EVENT_REQUEST = {
    "type": "object",
    "additionalProperties": False,
    "required": ["type", "reason"],
    "properties": {
        "type": {"enum": EVENT_TYPES},
        "on": {"type": "string", "format": "date", "description": "effective date (today)"},
        "reason": {"type": "string", "minLength": 1, "description": "why (D23)"},
        "member": {"type": "string", "description": "the beneficiary's number (depart, death, "
                   "reenrol, suspend, lift, correct)"},
        **{
            name: TEXT
            for name in (
                "name", "sex", "birth_date", "relationship", "number", "head",
                "former_relation", "category", "certificate", "product",
            )
        },
    },
}  # fmt: skip
EVENT = _object(
    {
        "id": {"type": "integer"},
        "household": {"type": "string"},
        "beneficiary": TEXT,
        "type": {"type": "string"},
        "effective_on": {"type": "string", "format": "date"},
        "created": {
            "type": "boolean",
            "description": "false: the same event was already the latest",
        },
        "payload": {"type": "object"},
    }
)


PERSON = {"type": ["string", "null"]}
YEAR = {"type": ["integer", "null"]}
ENROLMENT = _object(
    {
        "id": {"type": "integer"},
        "mutual": {"type": "string"},
        "section": TEXT,
        "status": {"enum": ["DRAFT", "PENDING", "APPROVED", "REJECTED"]},
        "agent": {"type": ["string", "null"], "description": "the collector; null: the console"},
        "head": _object({"name": PERSON, "sex": PERSON, "year": YEAR, "phone": PERSON}),
        "dependants": {
            "type": "array",
            "items": _object({"name": {"type": "string"}, "sex": PERSON, "year": YEAR}),
        },
        "duplicates": {
            "type": "array",
            "description": "what it may repeat (D24): kind household|enrolment, ref, why",
            "items": {"type": "object"},
        },
        "household": {"type": ["string", "null"], "description": "its number once approved"},
        "submitted_at": MOMENT,
        "decided_by": TEXT,
        "decided_at": MOMENT,
        "reason": TEXT,
    }
)
DECISION = {
    "required": False,
    "content": {
        "application/json": {
            "schema": _object({"reason": {"type": "string", "maxLength": 300}}, required=[])
        }
    },
}


def _decision(summary: str) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "parameters": [_param("enrolment_id", "path", type="integer")],
            "requestBody": DECISION,
            "responses": _answers("Enrolment", 400, 404, 409),
        }
    }


FIGURE = {
    "type": "object",
    "properties": {
        "code": {"type": "string"},
        "key": {"type": "string", "description": "a channel, funder, day, facility..."},
        "numerator": {"type": "integer"},
        "denominator": {"type": "integer"},
        "value": {"type": ["number", "null"], "description": "numerator / denominator, 4 places"},
    },
    "required": ["code", "numerator", "denominator", "value"],
}
INDICATORS = _object(
    {
        "scope": {"type": "object"},
        "period": {"type": "string"},
        "computed_at": MOMENT,
        "indicators": {"type": "array", "items": {"$ref": "#/components/schemas/Figure"}},
    }
)


def _param(name: str, where: str = "query", **schema: Any) -> dict[str, Any]:
    return {"name": name, "in": where, "required": where == "path", "schema": schema or TEXT}


PAGING = [
    _param("cursor", type="string"),
    _param("limit", type="integer", minimum=1, maximum=200),
]
MUTUAL = _param("mutual", type="string", description="a mutual's code")


def _answers(schema: str, *codes: int) -> dict[str, Any]:
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    found = {
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}
    }
    return {
        "200": {"description": "OK", **found},
        **{
            str(code): {"description": "error", **error}
            for code in sorted({400, 401, 403, 429, 503, *codes})
        },
    }


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document (built on request: no work at import)."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "Gateway JSON API", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Member": MEMBER,
                "Beneficiary": BENEFICIARY,
                "Household": HOUSEHOLD,
                "Payment": PAYMENT,
                "PaymentList": _list_of("Payment"),
                "Sms": SMS,
                "SmsList": _list_of("Sms"),
                "Enrolment": ENROLMENT,
                "Figure": FIGURE,
                "Indicators": INDICATORS,
                "Error": ERROR,
                **openapi_more.SCHEMAS,
                "EventRequest": EVENT_REQUEST,
                "Event": EVENT,
            },
        },
        "security": [{"bearer": []}],
        "paths": {
            "/households/{number}": {
                "get": {
                    "summary": "A household's eligibility, beneficiaries and credit",
                    "parameters": [_param("number", "path", type="string"), MUTUAL],
                    "responses": _answers("Household", 404, 409),
                }
            },
            "/households/{number}/events": {
                "post": {
                    "summary": "Record a dated event of the household (D23; manager, admin)",
                    "parameters": [_param("number", "path", type="string"), MUTUAL],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/EventRequest"}
                            }
                        },
                    },
                    "responses": {
                        **_answers("Event", 400, 404, 409),
                        "201": _answers("Event")["200"] | {"description": "Recorded"},
                    },
                }
            },
            "/payments": {
                "get": {
                    "summary": "Payments, newest first",
                    "parameters": [
                        MUTUAL,
                        _param("state", enum=["received", "held", "released"]),
                        _param("since", type="string", format="date"),
                        _param("until", type="string", format="date"),
                        *PAGING,
                    ],
                    "responses": _answers("PaymentList", 400),
                }
            },
            "/sms": {
                "get": {
                    "summary": "The SMS outbox, newest first (phones masked)",
                    "parameters": [MUTUAL, _param("status", type="string"), *PAGING],
                    "responses": _answers("SmsList", 400),
                }
            },
            **openapi_more.paths(),
            "/enrolments/{enrolment_id}/approve": _decision(
                "Approve a field enrolment (D24): household and member numbers, SMS"
            ),
            "/enrolments/{enrolment_id}/reject": _decision(
                "Reject a field enrolment with a reason (required), sent to the collector"
            ),
            "/indicators": {
                "get": {
                    "summary": "D22 indicators of a mutual, a section or the scope's roll-up",
                    "parameters": [
                        MUTUAL,
                        {**_param("period", type="string"), "required": True},
                        _param("section", type="string", description="a section's name"),
                    ],
                    "responses": _answers("Indicators", 400, 404),
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "security": [],
                    "responses": {"200": {"description": "OpenAPI 3.1"}},
                }
            },
        },
    }


@api_view("/openapi.json", public=True)
def openapi() -> Response:
    return jsonify(document())
