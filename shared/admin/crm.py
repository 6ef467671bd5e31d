"""The CRM connection (RD Station CRM): connect with a token, choose the funnel, map stages.

The token goes to the secret store (``piloto-tenant-{t}-crm-token``), checked against RD
Station first (``GET /token/check``): RD Station refusing it is a 422, RD Station failing a
502 (5xx) or 503 (unreachable, 429). A funnel or a stage id must exist in the account (checked
against ``GET /deal_pipelines`` when they change). ``settings/crm`` keeps the token's reference
and last four characters, never the token. Every change is audited.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from shared.admin.audit import audit_entry, audit_ref
from shared.admin.errors import ApiError, conflict, invalid
from shared.admin.http import Request
from shared.admin.schemas import Strict
from shared.crm.models import CrmSettings
from shared.crm.rdstation import CrmRefused, CrmUnavailable, Pipeline, RdStationClient
from shared.crm.store import (
    PILOTO_STAGES,
    crm_settings_ref,
    crm_token_secret_name,
    read_crm_settings,
)
from shared.secrets import SecretUnavailable, resolve_secret

logger = logging.getLogger("piloto.admin.crm")


class CrmIn(Strict):
    """A change to the CRM connection; the token is needed the first time only."""

    token: str | None = Field(
        default=None,
        min_length=8,
        max_length=200,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="RD Station CRM's instance token (Perfil → Token da instância).",
    )
    enabled: bool | None = None
    pipeline_id: str | None = Field(default=None, max_length=100)
    stage_mapping: dict[str, str] | None = Field(
        default=None, description="Piloto stage → RD Station stage id; unmapped stages stay put."
    )
    deal_name: str | None = Field(default=None, min_length=1, max_length=200)


class CrmOut(BaseModel):
    """The CRM connection as the console shows it (never the token)."""

    connected: bool
    provider: Literal["rdstation"] = "rdstation"
    enabled: bool = False
    token_hint: str | None = None
    pipeline_id: str | None = None
    stage_mapping: dict[str, str] = Field(default_factory=dict)
    deal_name: str | None = None
    status: Literal["connected", "failing"] | None = None
    error: str | None = None
    last_synced_at: datetime | None = None
    piloto_stages: list[str] = Field(default_factory=lambda: list(PILOTO_STAGES))


class CrmStageOut(BaseModel):
    """One stage of a funnel."""

    id: str
    name: str


class CrmPipelineOut(BaseModel):
    """One RD Station funnel and its stages in order."""

    id: str
    name: str
    stages: list[CrmStageOut]


class CrmPipelines(BaseModel):
    """The account's funnels."""

    pipelines: list[CrmPipelineOut]


def get_crm(request: Request, tenant_id: str) -> CrmOut:
    """Return the CRM connection (``connected: false`` when there is none)."""
    return _out(read_crm_settings(request.services.firestore, tenant_id))


def put_crm(request: Request, tenant_id: str) -> CrmOut:
    """Connect or change the CRM: a new token is checked with RD Station before it is kept."""
    body: CrmIn = request.body
    services = request.services
    client = services.firestore
    now = services.now()
    before = read_crm_settings(client, tenant_id)
    if body.token is None and before is None:
        raise invalid("token", "required to connect RD Station CRM")
    _check_mapping_keys(body.stage_mapping)
    api = _api(request, body.token if body.token else None, before)
    if body.token:
        _call(api.check_token, token=True)
    given = body.model_fields_set
    pipeline_id = body.pipeline_id if "pipeline_id" in given else None
    mapping = body.stage_mapping or {}
    if before is not None:
        pipeline_id = pipeline_id if "pipeline_id" in given else before.pipeline_id
        mapping = mapping if body.stage_mapping is not None else before.stage_mapping
    changed = (
        before is None
        or bool(body.token)
        or (pipeline_id, mapping) != (before.pipeline_id, before.stage_mapping)
    )
    if (pipeline_id or mapping) and changed:
        pipelines: list[Pipeline] = _call(api.pipelines)
        if body.token and "pipeline_id" not in given and not _exists(pipelines, pipeline_id):
            pipeline_id = None  # another account: the old funnel is not there
        if body.token and body.stage_mapping is None:
            known = _stage_ids(pipelines, pipeline_id)
            mapping = {stage: crm for stage, crm in mapping.items() if crm in known}
        _check_ids(pipelines, pipeline_id, mapping)
    reference = before.token_ref if before is not None else ""
    if body.token:
        try:
            reference = services.secret_store.put(crm_token_secret_name(tenant_id), body.token)
        except Exception as error:  # the store is unreachable: nothing was stored in Firestore
            logger.exception("saving the CRM token failed")
            raise ApiError(
                503, f"could not save the token ({type(error).__name__}); try again"
            ) from None
    fresh = body.token is not None or before is None
    kept = before or CrmSettings(token_ref=reference, connected_at=now)
    settings = kept.model_copy(
        update={
            "enabled": body.enabled if body.enabled is not None else kept.enabled,
            "token_ref": reference,
            "token_hint": body.token[-4:] if body.token else kept.token_hint,
            "pipeline_id": pipeline_id or None,
            "stage_mapping": mapping,
            "deal_name": body.deal_name or kept.deal_name,
            "connected_at": now if fresh else kept.connected_at,
            "connected_by": request.member.uid if fresh else kept.connected_by,
            "status": "connected" if fresh else kept.status,
            "error": None if fresh else kept.error,
        }
    )
    batch = client.batch()
    batch.set(crm_settings_ref(client, tenant_id), settings.model_dump(mode="python"))
    batch.set(
        audit_ref(client, tenant_id, now),
        audit_entry(
            request.member,
            "crm.update",
            "settings/crm",
            now,
            before=_audited(before),
            after=_audited(settings),
        ),
    )
    batch.commit()
    return _out(settings)


def list_crm_pipelines(request: Request, tenant_id: str) -> CrmPipelines:
    """Return the connected account's funnels and stages (none while nothing is connected)."""
    settings = read_crm_settings(request.services.firestore, tenant_id)
    if settings is None:
        return CrmPipelines(pipelines=[])
    pipelines = _call(_api(request, None, settings).pipelines)
    return CrmPipelines(
        pipelines=[
            CrmPipelineOut(
                id=p.id, name=p.name, stages=[CrmStageOut(id=s.id, name=s.name) for s in p.stages]
            )
            for p in pipelines
        ]
    )


def delete_crm(request: Request, tenant_id: str) -> CrmOut:
    """Disconnect the CRM and forget its token (conversations stop going to RD Station)."""
    services = request.services
    client = services.firestore
    before = read_crm_settings(client, tenant_id)
    if before is None:
        return _out(None)
    now = services.now()
    batch = client.batch()
    batch.delete(crm_settings_ref(client, tenant_id))
    batch.set(
        audit_ref(client, tenant_id, now),
        audit_entry(request.member, "crm.delete", "settings/crm", now, before=_audited(before)),
    )
    batch.commit()
    try:
        services.secret_store.delete(crm_token_secret_name(tenant_id))
    except Exception:  # the settings are gone, so the token is no longer used
        logger.exception("deleting the CRM token failed")
    return _out(None)


def _api(request: Request, token: str | None, settings: CrmSettings | None) -> RdStationClient:
    services = request.services
    if token is None:
        if settings is None:
            raise conflict("RD Station CRM is not connected")
        try:
            token = resolve_secret(settings.token_ref, services.settings.project_id)
        except SecretUnavailable as error:
            raise ApiError(503, f"the saved CRM token cannot be read: {error}") from None
    return RdStationClient(services.http, services.settings.rdstation_api_base, token)


def _call(call: Any, *, token: bool = False) -> Any:
    """Run an RD Station call; its failures become the API's 422/502/503."""
    try:
        return call()
    except CrmRefused as error:
        if token or error.token_revoked:
            raise invalid("token", f"RD Station CRM refused the token ({error})") from None
        raise ApiError(502, f"RD Station CRM refused the request: {error}") from None
    except CrmUnavailable as error:
        status = 502 if error.status is not None and error.status >= 500 else 503
        raise ApiError(status, f"RD Station CRM is unavailable: {error}") from None


def _check_mapping_keys(mapping: dict[str, str] | None) -> None:
    for stage, crm_stage in (mapping or {}).items():
        if stage not in PILOTO_STAGES:
            raise invalid(f"stage_mapping.{stage}", f"not a stage: {', '.join(PILOTO_STAGES)}")
        if not crm_stage.strip():
            raise invalid(f"stage_mapping.{stage}", "an RD Station stage id is needed")


def _exists(pipelines: list[Pipeline], pipeline_id: str | None) -> bool:
    return pipeline_id is None or any(p.id == pipeline_id for p in pipelines)


def _stage_ids(pipelines: list[Pipeline], pipeline_id: str | None) -> set[str]:
    chosen = [p for p in pipelines if p.id == pipeline_id] if pipeline_id else pipelines
    return {stage.id for pipeline in chosen for stage in pipeline.stages}


def _check_ids(pipelines: list[Pipeline], pipeline_id: str | None, mapping: dict[str, str]) -> None:
    if not _exists(pipelines, pipeline_id):
        raise invalid("pipeline_id", "no such funnel in the RD Station CRM account")
    known = _stage_ids(pipelines, pipeline_id)
    for stage, crm_stage in mapping.items():
        if crm_stage not in known:
            raise invalid(f"stage_mapping.{stage}", "no such stage in the chosen funnel")


def _out(settings: CrmSettings | None) -> CrmOut:
    if settings is None:
        return CrmOut(connected=False)
    return CrmOut(
        connected=True,
        enabled=settings.enabled,
        token_hint=settings.token_hint or None,
        pipeline_id=settings.pipeline_id,
        stage_mapping=settings.stage_mapping,
        deal_name=settings.deal_name,
        status=settings.status,
        error=settings.error,
        last_synced_at=settings.last_synced_at,
    )


def _audited(settings: CrmSettings | None) -> dict[str, Any] | None:
    if settings is None:
        return None
    fields = {"enabled", "token_hint", "pipeline_id", "stage_mapping", "deal_name", "status"}
    return settings.model_dump(mode="json", include=fields)
