"""Declare API operations once; routing, auth, validation and the OpenAPI document follow.

Each operation names its operationId, who may call it, its request and response models
(pydantic, each with an example) and the errors it can return. ``openapi_document()`` builds
the OpenAPI 3.1 document from these declarations, so the document cannot drift from the code.
"""

import re
from dataclasses import dataclass, field

from flask import Response, g, jsonify, request
from flask_babel import lazy_gettext as _l
from pydantic import BaseModel, ValidationError

from voting.accounts.models import MEETING_ROLES
from voting.errors import DomainError, Forbidden, Invalid, Unauthorized
from voting.extensions import db
from voting.tokens import token_hash

OPERATIONS = []

ERROR_DESCRIPTIONS = {
    400: "Invalid request: the body or parameters failed validation, or the domain refused it.",
    401: "Missing, unknown or revoked bearer token.",
    403: "The caller's role or identity does not allow this operation.",
    404: "The named object does not exist.",
    409: "The object's state does not allow this operation now.",
    413: "The request body is larger than the server accepts.",
    429: "Too many requests from this caller; wait and retry.",
}


@dataclass
class Operation:
    operation_id: str
    method: str
    rule: str
    summary: str
    tag: str
    auth: str  # "public", "deputy" or "organizer"
    roles: tuple
    request_model: type | None
    response_model: type | None
    status: int
    errors: tuple
    query_model: type | None = None
    upload_field: str | None = None
    description: str = ""
    path_params: list = field(default_factory=list)
    response_media: dict | None = None  # media type -> {schema, example}, for answers that are not JSON
    # A deputy operation that checks the phone's token in its own statement (checkIn), so the
    # registry does not look the device up first: one query less on the sign-in burst's path.
    checks_device: bool = False


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list | dict | None = None


class ErrorResponse(BaseModel):
    """Every error: a stable machine code and a message in the caller's language."""

    error: ErrorBody

    model_config = {"json_schema_extra": {"examples": [
        {"error": {"code": "signin_not_open", "message": "签到未开放。"}}
    ]}}


def _bearer_token():
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _authenticate(op):
    if op.auth == "public":
        return
    token = _bearer_token()
    if not token:
        raise Unauthorized(_l("A bearer token is required."), code="token_required")
    if op.auth == "deputy":
        from voting.deputies.operations import device_for_token

        if op.checks_device and token.startswith("vtd_"):
            g.api_device_token = token
            g.api_device_token_hash = token_hash(token)
            g.rate_limit_key = f"device-token:{g.api_device_token_hash}"
            return
        device = device_for_token(token)
        if device is None:
            if token.startswith("vto_"):
                raise Forbidden(_l("Only a deputy's phone may do this."), code="deputy_only")
            raise Unauthorized(_l("Unknown or revoked device token."), code="token_invalid")
        g.api_device = device
        g.api_device_token = token
        g.rate_limit_key = f"device:{device.id}"
        return
    from voting.accounts.operations import user_for_api_token

    user = user_for_api_token(token) if token.startswith("vto_") else None
    if user is None:
        if token.startswith("vtd_"):
            raise Forbidden(_l("A deputy's phone may not do this."), code="organizer_only")
        raise Unauthorized(_l("Unknown or revoked API token."), code="token_invalid")
    if not user.has_role(*op.roles):
        raise Forbidden(_l("Your role does not allow this."), code="role_forbidden")
    g.api_user = user
    g.rate_limit_key = f"user:{user.id}"


def _require_live_device():
    from voting.deputies.operations import device_for_token

    if device_for_token(g.api_device_token) is None:
        raise Unauthorized(_l("Unknown or revoked device token."), code="token_invalid")


def _validation_error(error):
    details = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in error.errors()]
    return Invalid(_l("The request is not valid: %(fields)s.", fields=", ".join(d["field"] or "body"
                                                                            for d in details)),
                   code="validation_failed", details=details)


def _parse_body(op):
    if op.request_model is None:
        return None
    data = request.get_json(silent=True)
    if data is None:
        raise Invalid(_l("The request body must be JSON."), code="json_required")
    try:
        return op.request_model.model_validate(data)
    except ValidationError as error:
        raise _validation_error(error) from None


def _parse_query(op):
    if op.query_model is None:
        return None
    try:
        return op.query_model.model_validate(request.args.to_dict())
    except ValidationError as error:
        raise _validation_error(error) from None


def _commit():
    """Commit the request's session, unless it has nothing to commit.

    An operation that neither queried nor changed anything through the session (checkIn's UPDATE
    commits on a connection of its own) would otherwise make a session only to begin and commit
    an empty transaction: about 0.05 ms, a tenth of a sign-in's time in the app.
    """
    if not db.session.registry.has():
        return
    session = db.session()
    if session.in_transaction() or session.new or session.dirty or session.deleted:
        session.commit()


def operation(bp, rule, method, operation_id, *, summary, tag, auth="organizer", roles=MEETING_ROLES,
              request_model=None, response_model=None, status=200, errors=(), query_model=None,
              upload_field=None, decorators=(), response_media=None, checks_device=False):
    """Register an API operation on ``bp`` and in the OpenAPI document."""

    def decorator(func):
        op = Operation(
            operation_id=operation_id, method=method.upper(), rule=rule, summary=summary, tag=tag, auth=auth,
            roles=roles, request_model=request_model, response_model=response_model, status=status,
            errors=tuple(sorted(set(errors) | ({401, 403} if auth != "public" else set()) |
                                ({400} if request_model or query_model or upload_field else set()))),
            query_model=query_model, upload_field=upload_field, description=(func.__doc__ or "").strip(),
            path_params=re.findall(r"<(?:(\w+):)?(\w+)>", rule), response_media=response_media,
            checks_device=checks_device,
        )

        def run(**path_params):
            kwargs = dict(path_params)
            if op.request_model is not None:
                kwargs["body"] = _parse_body(op)
            if op.query_model is not None:
                kwargs["query"] = _parse_query(op)
            result = func(**kwargs)
            _commit()
            if isinstance(result, Response):  # a download (response_media), sent as it is
                return result
            if isinstance(result, BaseModel):
                result = result.model_dump(mode="json")
            return jsonify(result), op.status

        run.__name__ = operation_id
        for extra in decorators:
            run = extra(run)

        def view(**path_params):
            # Authenticate before the decorators (rate limits) run, so that they are keyed on the
            # device or account: a whole hall shares one network address.
            _authenticate(op)
            if not op.checks_device:
                return run(**path_params)
            try:
                return run(**path_params)
            except DomainError as error:
                if not isinstance(error, Unauthorized):
                    _require_live_device()  # an unknown or revoked phone hears 401 first, as everywhere
                raise

        view.__name__ = operation_id
        bp.add_url_rule(rule, endpoint=operation_id, view_func=view, methods=[op.method])
        OPERATIONS.append(op)
        return func

    return decorator


def openapi_document(server_url="/"):
    """Build the OpenAPI 3.1 document from the registered operations."""
    from pydantic.json_schema import models_json_schema

    models = {ErrorResponse}
    for op in OPERATIONS:
        models.update(m for m in (op.request_model, op.response_model, op.query_model) if m is not None)
    _, top = models_json_schema([(m, "validation") for m in sorted(models, key=lambda m: m.__name__)],
                                ref_template="#/components/schemas/{model}")
    schemas = top.get("$defs", {})
    paths = {}
    for op in OPERATIONS:
        path = "/api/v1" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", op.rule)
        item = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "description": op.description,
            "tags": [op.tag],
            "parameters": [
                {"name": name, "in": "path", "required": True,
                 "schema": {"type": "integer"} if conv == "int" else {"type": "string"},
                 "example": 1 if conv == "int" else "x"}
                for conv, name in op.path_params
            ],
            "responses": {},
        }
        if op.query_model is not None:
            query_schema = op.query_model.model_json_schema()
            for name, prop in query_schema.get("properties", {}).items():
                item["parameters"].append({
                    "name": name, "in": "query", "required": name in query_schema.get("required", []),
                    "schema": {k: v for k, v in prop.items() if k != "title"},
                    "description": prop.get("description", ""),
                })
        if op.auth != "public":
            item["security"] = [{"deviceToken": []}] if op.auth == "deputy" else [{"organizerToken": []}]
        else:
            item["security"] = []
        if op.request_model is not None:
            item["requestBody"] = {
                "required": True,
                "content": {"application/json": {
                    "schema": {"$ref": f"#/components/schemas/{op.request_model.__name__}"},
                    "example": _example(op.request_model),
                }},
            }
        if op.upload_field:
            item["requestBody"] = {
                "required": True,
                "content": {"multipart/form-data": {
                    "schema": {"type": "object", "required": [op.upload_field],
                               "properties": {op.upload_field: {"type": "string", "format": "binary",
                                                                "description": "An .xlsx or .csv file."}}},
                    "example": {op.upload_field: _UPLOAD_EXAMPLE},
                }},
            }
        success = {"description": "Success."}
        if op.response_model is not None:
            success["content"] = {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{op.response_model.__name__}"},
                "example": _example(op.response_model),
            }}
        if op.response_media:
            success["content"] = op.response_media
        item["responses"][str(op.status)] = success
        for status in op.errors:
            item["responses"][str(status)] = {
                "description": ERROR_DESCRIPTIONS[status],
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"},
                                                 "example": _error_example(status)}},
            }
        paths.setdefault(path, {})[op.method.lower()] = item
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "District People's Congress voting and consultation API",
            "version": "1.0.0",
            "description": (
                "Organizers authenticate with a bearer token made by `flask --app wsgi create-token USERNAME`; "
                "a deputy's phone gets its bearer token from `activateDeputy`. Errors are JSON "
                "`{\"error\": {\"code\", \"message\"}}` with a stable code; messages follow Accept-Language "
                "(zh-CN by default, en)."
            ),
        },
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "organizerToken": {"type": "http", "scheme": "bearer",
                                   "description": "An organizer's API token (vto_...)."},
                "deviceToken": {"type": "http", "scheme": "bearer",
                                "description": "A deputy phone's device token (vtd_...) from activateDeputy."},
            },
        },
    }


# A roster as organizers write it: Chinese headers, phone optional (CSV shown; .xlsx has the same columns).
_UPLOAD_EXAMPLE = "姓名,代表证号,代表团,手机号码\n张三,A001,城关街道代表团,13800138000\n李四,A002,城关街道代表团,\n"


def _example(model):
    examples = (model.model_config.get("json_schema_extra") or {}).get("examples")
    if not examples:
        raise ValueError(f"{model.__name__} needs an example for the API document")
    return examples[0]


_ERROR_EXAMPLES = {
    400: ("validation_failed", "请求无效：title。"),
    401: ("token_required", "需要提供 Bearer 令牌。"),
    403: ("role_forbidden", "您的角色无权执行此操作。"),
    404: ("meeting_not_found", "会议不存在。"),
    409: ("invalid_state", "会议当前状态不允许此操作。"),
    413: ("too_large", "上传的文件过大（上限 10 MB）。"),
    429: ("rate_limited", "请求过于频繁，请稍后再试。"),
}


def _error_example(status):
    code, message = _ERROR_EXAMPLES[status]
    return {"error": {"code": code, "message": message}}
