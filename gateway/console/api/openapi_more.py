"""The OpenAPI 3.1 paths and schemas of the timeline, USSD sessions, campaigns, reconciliation
exceptions and CSV exports (issue 17), merged into gateway.console.api.openapi's document.
Precise enough for a property-based check (tests/console/test_api_properties.py): every
parameter's type and bounds, every answer's status and schema."""

from __future__ import annotations

from typing import Any

from gateway.console.sessions import STATUSES
from gateway.models import EXPORT_LISTS, ExportState, SuspenseState

DATE = {"type": ["string", "null"], "format": "date"}
MOMENT = {"type": ["string", "null"], "format": "date-time"}
TEXT = {"type": ["string", "null"]}
AMOUNT = {"type": "integer", "description": "whole XOF (D2)"}
ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
KINDS = [
    "session",
    "session_end",
    "sms",
    "intent",
    "payment",
    "reminder",
    "cash",
    "action",
    "household_event",
]


def obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required or list(properties)}


def list_of(ref: str) -> dict[str, Any]:
    return obj(
        {
            "items": {"type": "array", "items": {"$ref": f"#/components/schemas/{ref}"}},
            "next": {"type": ["string", "null"], "description": "cursor of the next page"},
        }
    )


TIMELINE_ITEM = obj(
    {
        "kind": {"enum": KINDS},
        "at": {"type": "string", "format": "date-time"},
        "id": {"type": "integer"},
        "data": {"type": "object", "description": "the source's fields; phones masked (D27)"},
    }
)
USSD_SESSION = obj(
    {
        "provider": {"type": "string"},
        "session_id": {"type": "string"},
        "started_at": {"type": "string", "format": "date-time"},
        "hops": {"type": "integer"},
        "phone": {"type": "string", "description": "masked (D27)"},
        "service_code": {"type": "string"},
        "mutual": TEXT,
        "status": {"enum": list(STATUSES)},
        "error": TEXT,
        "apologies": {"type": "integer"},
        "last_screen": {"type": "string"},
    }
)
CAMPAIGN = obj(
    {
        "id": {"type": "integer"},
        "mutual": {"type": "string"},
        "code": {"type": "string"},
        "name": {"type": "string"},
        "opens_on": {"type": "string", "format": "date"},
        "closes_on": {"type": "string", "format": "date"},
        "for_period": {"type": "string", "format": "date"},
        "sections": {"type": "array", "items": {"type": "string"}},
        "budget": {"type": ["integer", "null"], "description": "whole XOF (D2)"},
        "paused_at": MOMENT,
        "paused_reason": TEXT,
        "reminders_sent": {"type": "integer"},
    }
)
EXCEPTION = obj(
    {
        "id": {"type": "integer"},
        "mutual": TEXT,
        "provider": {"type": "string"},
        "provider_txn_id": {"type": "string"},
        "reference": TEXT,
        "phone": {"type": ["string", "null"], "description": "masked (D27)"},
        "amount": AMOUNT,
        "received_on": {"type": "string", "format": "date"},
        "reason": {"type": "string"},
        "state": {"enum": [s.value for s in SuspenseState]},
        "created_at": {"type": "string", "format": "date-time"},
        "resolved_at": MOMENT,
        "resolved_by": TEXT,
        "note": TEXT,
    }
)
DECISION = obj(
    {
        "suspense": {"type": "integer"},
        "action": {"type": "integer"},
        "state": {"enum": ["DONE", "PENDING"]},
        "waits_approval": {"type": "boolean"},
    }
)
EXPORT = obj(
    {
        "id": {"type": "integer"},
        "list": {"enum": list(EXPORT_LISTS)},
        "from": {"type": "string", "format": "date"},
        "to": {"type": "string", "format": "date"},
        "filters": {"type": "object"},
        "state": {"enum": [s.value for s in ExportState]},
        "rows": {"type": ["integer", "null"]},
        "error": TEXT,
        "requested_at": {"type": "string", "format": "date-time"},
        "finished_at": MOMENT,
        "expires_at": {"type": "string", "format": "date-time"},
    }
)
SCHEMAS = {
    "TimelineItem": TIMELINE_ITEM,
    "Timeline": list_of("TimelineItem"),
    "UssdSession": USSD_SESSION,
    "UssdSessionList": list_of("UssdSession"),
    "Campaign": CAMPAIGN,
    "CampaignList": list_of("Campaign"),
    "Exception": EXCEPTION,
    "ExceptionList": list_of("Exception"),
    "Decision": DECISION,
    "Export": EXPORT,
}


def param(name: str, where: str = "query", **schema: Any) -> dict[str, Any]:
    return {"name": name, "in": where, "required": where == "path", "schema": schema}


PAGING = [param("cursor", type="string"), param("limit", type="integer", minimum=1, maximum=200)]
MUTUAL = param("mutual", type="string", description="a mutual's code")
DAYS = [param("since", type="string", format="date"), param("until", type="string", format="date")]


def json_of(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


def answers(schema: str, *codes: int, ok: int = 200) -> dict[str, Any]:
    """`ok` with `schema`, then the errors every API view may give (401, 403, 429, 503) and
    `codes`, each an Error."""
    errors = sorted({400, 401, 403, 429, 503, *codes})
    return {
        str(ok): {"description": "OK", "content": json_of(schema)},
        **{str(code): {"description": "error", "content": json_of("Error")} for code in errors},
    }


def body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, "required": required}
    return {"required": True, "content": {"application/json": {"schema": schema}}}


REASON = {"type": "string", "minLength": 1, "maxLength": 500}
SUSPENSE = param("suspense_id", "path", **ID)
EXPORT_ID = param("export_id", "path", **ID)


def paths() -> dict[str, Any]:
    return {
        "/households/{number}/timeline": {
            "get": {
                "summary": "A household's one timeline, newest first (the console's)",
                "parameters": [param("number", "path", type="string"), MUTUAL, *PAGING],
                "responses": answers("Timeline", 404, 409),
            }
        },
        "/ussd/sessions": {
            "get": {
                "summary": "USSD sessions of a window (default: the last 24 hours)",
                "parameters": [
                    MUTUAL,
                    param("from", type="string", format="date-time"),
                    param("to", type="string", format="date-time"),
                    param("status", enum=list(STATUSES)),
                    param("errors", type="boolean"),
                    *PAGING,
                ],
                "responses": answers("UssdSessionList", 404),
            }
        },
        "/campaigns": {
            "get": {
                "summary": "Campaigns of the scope, newest first",
                "parameters": [MUTUAL, param("state", enum=["open", "paused"]), *PAGING],
                "responses": answers("CampaignList"),
            }
        },
        "/reconciliation/exceptions": {
            "get": {
                "summary": "Suspense lines (reconciliation exceptions), newest first",
                "parameters": [
                    MUTUAL,
                    param("state", enum=[*(s.value for s in SuspenseState), "all"]),
                    param("provider", type="string"),
                    *DAYS,
                    *PAGING,
                ],
                "responses": answers("ExceptionList"),
            }
        },
        "/reconciliation/exceptions/{suspense_id}/assign": {
            "post": {
                "summary": "Assign a suspense line to a household (maker-checker above the "
                "mutual's threshold: PENDING)",
                "parameters": [SUSPENSE],
                "requestBody": body(
                    {"household": {"type": "string", "maxLength": 40}, "reason": REASON},
                    ["household", "reason"],
                ),
                "responses": answers("Decision", 404, 409),
            }
        },
        "/reconciliation/exceptions/{suspense_id}/ignore": {
            "post": {
                "summary": "Ignore a suspense line, with a reason",
                "parameters": [SUSPENSE],
                "requestBody": body({"reason": REASON}, ["reason"]),
                "responses": answers("Decision", 404, 409),
            }
        },
        "/exports": {
            "post": {
                "summary": "Ask for a CSV export of a list (a job; one running per list)",
                "requestBody": body(
                    {
                        "list": {"enum": list(EXPORT_LISTS)},
                        "from": {"type": "string", "format": "date"},
                        "to": {"type": "string", "format": "date"},
                        "mutual": {"type": "string", "maxLength": 20},
                        "status": {"type": "string", "maxLength": 20},
                        "errors": {"type": "boolean"},
                    },
                    ["list", "from", "to"],
                ),
                "responses": answers("Export", 404, 409, ok=202),
            }
        },
        "/exports/{export_id}": {
            "get": {
                "summary": "An export of this token: its state",
                "parameters": [EXPORT_ID],
                "responses": answers("Export", 404),
            }
        },
        "/exports/{export_id}/download": {
            "get": {
                "summary": "The gzipped CSV of a finished export (this token's; 410 once expired)",
                "parameters": [EXPORT_ID],
                "responses": {
                    **answers("Error", 404, 409, 410),
                    "200": {
                        "description": "the gzipped CSV",
                        "content": {"application/gzip": {"schema": {}}},
                    },
                },
            }
        },
    }
