"""JSON API plumbing: declared operations, body/query parsing, errors, and the OpenAPI document.

Every endpoint is declared with `@operation(...)` naming its pydantic request and response
models; the OpenAPI file at /api/v1/openapi.json is generated from those declarations, so the
document cannot drift from the code. Errors are always
`{"error": {"code", "message" (localized), "fields": {...}}}` with the right status; no stack
trace or personal data ever reaches a response.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

from bot.keys import metrics_key
from i18n import locale_from_accept_language, t

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)
MAX_ID = 2**31 - 1  # integer primary keys are 32-bit on PostgreSQL; a larger cursor means 'all'
MAX_JSON = 256 * 1024  # the largest form (an application) is a few KB


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        *,
        fields: dict[str, str] | None = None,
        message_key: str | None = None,
        headers: dict[str, str] | None = None,
        **params: object,
    ) -> None:
        super().__init__(code)
        self.status, self.code, self.fields = status, code, fields or {}
        self.message_key = message_key or f"error.{code}"
        self.params, self.headers = params, headers or {}

    @classmethod
    def with_params(
        cls, status: int, code: str, message_key: str, params: Mapping[str, object]
    ) -> ApiError:
        """An error whose message parameters come as a mapping (a domain rule's refusal passed
        on); a parameter named like a keyword above (fields, headers) stays a parameter."""
        err = cls(status, code, message_key=message_key)
        err.params = dict(params)
        return err


def request_locale(request: web.Request) -> str:
    return locale_from_accept_language(request.headers.get("Accept-Language"))


def error_response(request: web.Request, exc: ApiError) -> web.Response:
    loc = request_locale(request)
    body = {
        "error": {
            "code": exc.code,
            "message": t(exc.message_key, loc, **exc.params),
            "fields": exc.fields,
        }
    }
    return web.json_response(
        body,
        status=exc.status,
        headers=exc.headers,
        dumps=lambda o: json.dumps(o, ensure_ascii=False),
    )


@web.middleware
async def error_middleware(request: web.Request, handler: Callable) -> web.StreamResponse:
    """JSON errors for /api; timing per route; a generic 500 that leaks nothing.

    Outside /api a 404 or 405 (an unknown path, a wrong method) is JSON too, as the README
    promises: a script probing the service never has to parse aiohttp's plain-text page.
    """
    if not request.path.startswith("/api/"):
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status not in (404, 405):
                raise
            code = "not_found" if exc.status == 404 else "method_not_allowed"
            allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
            return error_response(request, ApiError(exc.status, code, headers=allow))
    started = time.perf_counter()
    route = (
        request.match_info.route.resource.canonical
        if request.match_info.route.resource
        else "unmatched"
    )
    try:
        check_path(request)
        return await handler(request)
    except ApiError as exc:
        return error_response(request, exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {
            404: "not_found",
            405: "method_not_allowed",
            408: "request_timeout",
            413: "too_large",
        }.get(exc.status, "http_error")
        return error_response(request, ApiError(exc.status, code))
    except Exception:
        log.exception("unhandled error on %s %s", request.method, route)
        request.app[metrics_key].errors.labels("api").inc()
        return error_response(request, ApiError(500, "internal"))
    finally:
        request.app[metrics_key].http_latency.labels(route).observe(time.perf_counter() - started)


PATH_TEXT_MAX = 64  # case numbers and tickets are far shorter; the columns hold 64


def check_path(request: web.Request) -> None:
    """The one validator every path parameter goes through, before any handler: ids (`id`,
    `…_id`) are ASCII digits within the database's integer, anything else (case numbers,
    tickets) printable text of at most PATH_TEXT_MAX characters. Anything else is a 404 —
    no such record can exist — never a database error."""
    for name, value in request.match_info.items():
        if name == "id" or name.endswith("_id"):
            ok = value.isascii() and value.isdigit() and len(value) <= 10 and int(value) <= MAX_ID
        else:
            ok = 0 < len(value) <= PATH_TEXT_MAX and value.isprintable() and storable(value)
        if not ok:
            raise ApiError(404, "not_found")


def path_schema(name: str) -> dict:
    """What check_path accepts, for the OpenAPI document."""
    if name == "id" or name.endswith("_id"):
        return {"type": "string", "pattern": "^[0-9]{1,10}$"}
    return {"type": "string", "minLength": 1, "maxLength": PATH_TEXT_MAX}


def validation_fields(exc: ValidationError, locale: str) -> dict[str, str]:
    """Pydantic errors -> {dotted.field: localized message}."""
    out: dict[str, str] = {}
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if p != "body") or "body"
        ctx = {k: v for k, v in (err.get("ctx") or {}).items() if isinstance(v, int | float | str)}
        if err["type"] in ("enum", "literal_error") and "expected" in ctx:
            ctx["expected"] = value_labels(str(ctx["expected"]), locale)
        key = f"validation.{err['type']}"
        text = t(key, locale, **ctx) if key in _known_validation_keys(locale) else None
        out.setdefault(loc, text or t("validation.invalid", locale))
    return out


# Catalog prefixes that label the codes an API field accepts, tried after `value.<code>`.
_LABEL_PREFIXES = (
    "value",
    "matter",
    "exempt",
    "hardship",
    "pledge_confirm",
    "material",
    "complaint.about",
    "complaint.grounds",
)


def value_labels(expected: str, locale: str) -> str:
    """Pydantic's "'granted', 'refused' or 'need_materials'" as the locale's labels
    ("给予法律援助、不予法律援助、补充材料"): a Chinese message never lists English codes."""
    from i18n import catalog

    texts = catalog(locale)
    labels = []
    for code in re.findall(r"'([^']*)'", expected):
        key = next((f"{p}.{code}" for p in _LABEL_PREFIXES if f"{p}.{code}" in texts), None)
        labels.append(texts[key] if key else code)
    return t("punct.list_sep", locale).join(labels) if labels else expected


def _known_validation_keys(locale: str) -> set[str]:
    from i18n import catalog

    return {k for k in catalog(locale) if k.startswith("validation.")}


async def read_capped(request: web.Request, cap: int) -> bytes:
    """The whole body, however slowly or in however many chunks it arrives; 413 beyond `cap`.

    `StreamReader.read(n)` answers with what is buffered so far, which on a village network is
    often half a body: keep reading until the end of the stream.
    """
    if request.content_length is not None and request.content_length > cap:
        raise ApiError(413, "too_large")
    chunks, size = [], 0
    while chunk := await request.content.read(64 * 1024):
        size += len(chunk)
        if size > cap:
            raise ApiError(413, "too_large")
        chunks.append(chunk)
    return b"".join(chunks)


JSON_DEPTH_MAX = 32  # our deepest body (an application) nests 4 levels
JSON_INT_MAX = 2**53  # JSON's exact integers; no field of ours counts beyond (ids are 32-bit)


async def parse_body(request: web.Request, model: type[M]) -> M:
    raw = await read_capped(request, MAX_JSON)
    try:
        data = json.loads(raw or b"null")
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than Python's stack
        raise ApiError(400, "malformed_json") from None
    check_json(request, data)
    return validate(request, model, data)


def storable(text: str) -> bool:
    """Text every database can keep: no NUL (PostgreSQL refuses it in text) and no lone
    surrogate (JSON's "\\ud800" decodes to one; it cannot be encoded as UTF-8)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_json(request: web.Request, data: Any) -> None:
    """Refuses, before any model sees them, JSON documents nested deeper than JSON_DEPTH_MAX
    (400), and strings a database cannot store or integers beyond JSON_INT_MAX (422 naming
    the field)."""
    stack: list[tuple[Any, str, int]] = [(data, "body", 0)]
    while stack:
        value, where, depth = stack.pop()
        if isinstance(value, str):
            if not storable(value):
                raise ApiError(
                    422,
                    "validation",
                    fields={where: t("validation.unstorable_text", request_locale(request))},
                )
        elif isinstance(value, int) and abs(value) > JSON_INT_MAX:
            raise ApiError(
                422, "validation", fields={where: t("validation.invalid", request_locale(request))}
            )
        elif isinstance(value, dict | list):
            if depth >= JSON_DEPTH_MAX:
                raise ApiError(400, "malformed_json")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if not storable(str(key)):  # a field name: report where it was found
                    raise ApiError(
                        422,
                        "validation",
                        fields={where: t("validation.unstorable_text", request_locale(request))},
                    )
                stack.append((item, str(key) if where == "body" else f"{where}.{key}", depth + 1))


def validate(request: web.Request, model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(
            422, "validation", fields=validation_fields(exc, request_locale(request))
        ) from None


def parse_query(request: web.Request, model: type[M]) -> M:
    data = dict(request.query.items())
    for name, value in data.items():
        if not storable(name) or not storable(value):
            raise ApiError(
                422,
                "validation",
                fields={
                    name if storable(name) else "?": t(
                        "validation.unstorable_text", request_locale(request)
                    )
                },
            )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(
            422, "validation", fields=validation_fields(exc, request_locale(request))
        ) from None


async def keyset_page(
    rows: Any, *, cursor: str | None, limit: int, related: tuple[str, ...] = ()
) -> tuple[list[Any], str | None]:
    """Newest first by id, `limit` per page; the cursor is the last id seen (validated digits)."""
    if cursor:
        rows = rows.filter(id__lt=min(int(cursor), MAX_ID))
    query = rows.order_by("-id").limit(limit + 1)
    page = await (query.select_related(*related) if related else query)
    more, page = len(page) > limit, page[:limit]
    return page, (str(page[-1].id) if more and page else None)


def json_ok(model: BaseModel | dict | list, status: int = 200) -> web.Response:
    text = (
        model.model_dump_json()
        if isinstance(model, BaseModel)
        else json.dumps(model, ensure_ascii=False, default=str)
    )
    return web.Response(text=text, status=status, content_type="application/json")


# --- declared operations and the OpenAPI document -------------------------------------------


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    path: str
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    query: type[BaseModel] | None = None
    auth: str | None = None  # 'bearer' (mini-program token) or 'api_key' (centre)
    content_type: str = "application/json"  # of the success response
    errors: tuple[int, ...] = field(default=())
    headers: tuple[str, ...] = field(default=())  # required request headers
    form: tuple[tuple[str, str], ...] = field(
        default=()
    )  # multipart fields: (name, "string"|"binary")


OPERATIONS: list[Operation] = []


def operation(method: str, path: str, *, summary: str, tag: str, **kw: Any) -> Callable:
    def deco(fn: Callable) -> Callable:
        OPERATIONS.append(Operation(method.upper(), path, fn, summary, tag, **kw))
        return fn

    return deco


def add_operations(app: web.Application) -> None:
    for op in OPERATIONS:
        app.router.add_route(op.method, op.path, op.handler)


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
                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        }
    },
}


def openapi_document(base_url: str) -> dict:
    models = {m for op in OPERATIONS for m in (op.body, op.response, op.query) if m}
    _, defs = models_json_schema(
        [
            (m, "validation" if m is not None else "serialization")
            for m in sorted(models, key=lambda m: m.__name__)
        ],
        ref_template="#/components/schemas/{model}",
    )
    schemas = defs.get("$defs", {})
    schemas["Error"] = ERROR_SCHEMA
    paths: dict[str, dict] = {}
    # operationId is the handler's name; two modules' `create` are told apart by their module.
    names = Counter(op.handler.__name__ for op in OPERATIONS)
    operation_ids = {
        id(op): op.handler.__name__
        if names[op.handler.__name__] == 1
        else f"{op.handler.__module__.rsplit('.', 1)[-1]}_{op.handler.__name__}"
        for op in OPERATIONS
    }
    for op in OPERATIONS:
        item: dict[str, Any] = {
            "summary": op.summary,
            "tags": [op.tag],
            "operationId": operation_ids[id(op)],
        }
        params = []
        for part in op.path.split("/"):
            if part.startswith("{"):
                name = part.strip("{}")
                params.append(
                    {"name": name, "in": "path", "required": True, "schema": path_schema(name)}
                )
        if op.query:
            for name, f in op.query.model_fields.items():
                params.append(
                    {
                        "name": f.alias or name,
                        "in": "query",
                        "required": f.is_required(),
                        "schema": _strip_title(
                            op.query.model_json_schema()["properties"][f.alias or name]
                        ),
                    }
                )
        for header in op.headers:
            params.append(
                {
                    "name": header,
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string", "minLength": 1, "maxLength": 128},
                }
            )
        if params:
            item["parameters"] = params
        if op.form:
            props = {
                name: {"type": "string", **({"format": "binary"} if kind == "binary" else {})}
                for name, kind in op.form
            }
            item["requestBody"] = {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "required": [n for n, _ in op.form],
                            "properties": props,
                        }
                    }
                },
            }
        if op.body:
            item["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": f"#/components/schemas/{op.body.__name__}"}
                    }
                },
            }
        ok: dict[str, Any] = {"description": "OK"}
        if op.response:
            ok["content"] = {
                op.content_type: {
                    "schema": {"$ref": f"#/components/schemas/{op.response.__name__}"}
                }
            }
        elif op.content_type != "application/json":
            ok["content"] = {op.content_type: {"schema": {"type": "string", "format": "binary"}}}
        responses: dict[str, Any] = {str(op.status): ok}
        errs = set(op.errors) | {400, 422} if (op.body or op.query or op.form) else set(op.errors)
        if op.auth:
            errs |= {401}
            item["security"] = [{"bearer": []} if op.auth == "bearer" else {"apiKey": []}]
        for code in sorted(errs):
            responses[str(code)] = {
                "description": "Error",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        item["responses"] = responses
        paths.setdefault(op.path, {})[op.method.lower()] = item
    return {
        # 3.1: its schemas are JSON Schema 2020-12, which is what pydantic emits
        # (`"type": "null"` in an anyOf, not 3.0's `nullable`).
        "openapi": "3.1.0",
        "info": {"title": "Legal-aid WeChat backend", "version": "1"},
        "servers": [{"url": base_url}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
            },
        },
    }


def _strip_title(schema: dict) -> dict:
    return {k: v for k, v in schema.items() if k != "title"}
