"""The admin API (HTTP): the console's backend under ``/api``; see ``shared.admin``.

Public on purpose (Hosting rewrites ``/api/**`` here): every route but health, config, providers
and the OpenAPI document authenticates a Firebase ID token itself.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import flask
import functions_framework

from shared.admin.errors import ApiError
from shared.admin.routes import AdminServices, build_services, router
from shared.logs import configure_logging
from shared.settings import get_settings

_services: AdminServices | None = None
_lock = threading.Lock()


def _get_services() -> AdminServices:
    global _services
    with _lock:
        if _services is None:
            settings = get_settings()
            configure_logging(settings.log_level)
            _services = build_services(settings)
        return _services


def too_large(limit: int) -> ApiError:
    """Return the refusal of a body over the limit, read no further."""
    return ApiError(413, f"the body is larger than {limit} bytes")


@functions_framework.http
def admin(request: flask.Request) -> Any:
    """Answer one admin API request."""
    limit = router().body_limit(request.method, request.path)
    if (request.content_length or 0) > limit:
        return flask.Response(
            status=413, response=json.dumps(too_large(limit).body()), mimetype="application/json"
        )
    body = request.get_data(cache=False)
    answer = router().dispatch(
        _get_services(),
        request.method,
        request.path,
        request.args.to_dict(),
        dict(request.headers.items()),
        body,
    )
    response = flask.Response(
        status=answer.status,
        headers={"Cache-Control": "no-store", **answer.headers},
    )
    if answer.body is not None:
        response.set_data(json.dumps(answer.body, ensure_ascii=False))
        response.mimetype = "application/json"
    return response
