"""The admin API's request and response bodies (pydantic): validation and the OpenAPI schemas.

Requests forbid unknown fields, so a typo is a 422 naming it instead of a silent no-op.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError, field_validator

from shared.billing.plans import Quotas
from shared.billing.quota import UsageLine
from shared.insights.models import Insight, InsightAgent, InsightAgentSpec
from shared.models.decision import KnowledgeRef
from shared.models.tenant import Tenant

Role = Literal["owner", "admin", "seller"]
Provider = Literal["meta", "twilio", "evolution", "zapi"]
Status = Literal["open", "handoff", "closed"]
CloseReason = Literal["won", "lost", "no_interest", "spam", "other"]


def _known_zone(value: str) -> str:
    """Return the time zone if it is known, else raise ValueError (a 422 naming the field)."""
    try:
        return Tenant.model_validate({"tenant_id": "xx", "name": "x", "timezone": value}).timezone
    except ValidationError as error:  # re-raised plainly, or pydantic nests its location
        raise ValueError(str(error.errors()[0]["msg"]).removeprefix("Value error, ")) from None


class Strict(BaseModel):
    """A request body: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ErrorDetail(BaseModel):
    field: str
    reason: str


class ErrorPayload(BaseModel):
    code: str
    message: str
    field: str | None
    details: list[ErrorDetail]


class ErrorBody(BaseModel):
    """Every 4xx answer."""

    error: ErrorPayload


class Health(BaseModel):
    status: Literal["ok"]


class FirebaseWebConfig(BaseModel):
    api_key: str
    auth_domain: str
    project_id: str


class ConsoleConfig(BaseModel):
    """What the console needs before anyone signs in."""

    firebase: FirebaseWebConfig
    auth_emulator_url: str | None


class ProviderField(BaseModel):
    name: str
    required: bool


class ProviderSpec(BaseModel):
    provider: Provider
    config_fields: list[ProviderField]
    secret_fields: list[ProviderField]


class Providers(BaseModel):
    providers: list[ProviderSpec]


# Account and tenants


class MembershipOut(BaseModel):
    tenant_id: str
    tenant_name: str
    role: Role


class InviteForMe(BaseModel):
    tenant_id: str
    tenant_name: str
    role: Role
    invited_by_email: str | None


class Me(BaseModel):
    uid: str
    email: str | None
    email_verified: bool
    memberships: list[MembershipOut]
    invites: list[InviteForMe]


class TenantCreate(Strict):
    name: str = Field(min_length=2, max_length=80)
    timezone: str = "America/Sao_Paulo"
    locale: str = Field(default="pt-BR", pattern=r"^[a-z]{2}(-[A-Z]{2})?$")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return _known_zone(value)


class TenantUpdate(Strict):
    name: str | None = Field(default=None, min_length=2, max_length=80)
    timezone: str | None = None
    locale: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[A-Z]{2})?$")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return _known_zone(value)


class TenantOut(BaseModel):
    tenant_id: str
    name: str
    timezone: str
    locale: str
    role: Role


class MemberOut(BaseModel):
    uid: str
    email: str | None
    role: Role
    added_at: datetime | None


class InviteOut(BaseModel):
    email: str
    role: Role
    invited_at: datetime
    invited_by_email: str | None


class Team(BaseModel):
    members: list[MemberOut]
    invites: list[InviteOut]


class InviteCreate(Strict):
    email: EmailStr
    role: Role


class RoleChange(Strict):
    role: Role


# Channels


class ChannelCreate(Strict):
    provider: Provider
    display_name: str | None = Field(default=None, max_length=80)
    business_phone: str | None = Field(default=None, pattern=r"^\+[1-9]\d{7,14}$")
    config: dict[str, Any] = Field(default_factory=dict)
    secrets: dict[str, str] = Field(default_factory=dict)


class ChannelUpdate(Strict):
    display_name: str | None = Field(default=None, max_length=80)
    business_phone: str | None = Field(default=None, pattern=r"^\+[1-9]\d{7,14}$")
    enabled: bool | None = None
    config: dict[str, Any] | None = None
    secrets: dict[str, str] | None = None


class ChannelOut(BaseModel):
    channel_id: str
    provider: Provider
    display_name: str | None
    business_phone: str | None
    enabled: bool
    config: dict[str, Any]
    secrets_set: list[str]
    webhook_url: str


class ChannelList(BaseModel):
    channels: list[ChannelOut]


# Conversations


class LastMessage(BaseModel):
    role: Literal["lead", "agent", "seller"]
    text: str
    at: datetime


class ConversationSummary(BaseModel):
    conversation_id: str
    channel_id: str
    contact_key: str
    contact_name: str | None
    contact_phone: str | None
    status: Status
    stage: str
    mode: Literal["pilot", "copilot"]
    needs_human: bool
    attention_reason: str | None
    assignee_uid: str | None
    assignee_email: str | None
    taken_over_by: str | None
    human_active_until: datetime | None
    close_reason: str | None
    last_message: LastMessage | None
    pending_suggestions: int
    created_at: datetime
    updated_at: datetime


class ConversationFull(ConversationSummary):
    fields: dict[str, str]
    summary: str
    unanswered_count: int
    followups_sent: int
    followup_due_at: datetime | None


class ConversationQuery(Strict):
    status: Status | None = None
    assignee: str | None = Field(default=None, description="me, none, or a member's uid")
    stage: str | None = None
    channel_id: str | None = None
    needs_human: bool | None = None
    limit: int = Field(default=50, ge=1, le=100)
    cursor: str | None = None


class ConversationList(BaseModel):
    conversations: list[ConversationSummary]
    next_cursor: str | None


class UnderstandingOut(BaseModel):
    """What the agent made of media the lead sent (the media itself is never stored)."""

    status: Literal["understood", "not_understood", "rejected"]
    text: str | None = None
    reason: str | None = None
    model: str | None = None
    offline: bool = False


class MessageOut(BaseModel):
    message_id: str
    role: Literal["lead", "agent", "seller"]
    text: str
    at: datetime
    status: Literal["queued", "held", "sent", "delivered", "read", "failed"] | None
    author_email: str | None
    understanding: UnderstandingOut | None = None


class DecisionMessage(BaseModel):
    text: str | None
    template: str | None


class SuggestionOut(BaseModel):
    index: int
    text: str
    state: Literal["pending", "accepted", "edited", "dismissed"]


class DecisionOut(BaseModel):
    decision_id: str
    action: str
    reasons: list[str]
    messages: list[DecisionMessage]
    suggestions: list[SuggestionOut]
    decided_at: datetime
    specialist: str | None
    stage: str | None
    handoff_summary: str | None
    offline_model: bool
    knowledge_used: list[KnowledgeRef] = []
    open_question: str | None = None


class ConversationDetail(BaseModel):
    conversation: ConversationFull
    messages: list[MessageOut]
    decisions: list[DecisionOut]


class Assign(Strict):
    assignee_uid: str | None


class Close(Strict):
    reason: CloseReason
    note: str | None = Field(default=None, max_length=500)


class ModeChange(Strict):
    mode: Literal["pilot", "copilot"]


class SellerMessage(Strict):
    text: str = Field(min_length=1, max_length=4096)


class SentMessage(BaseModel):
    message: MessageOut


class SuggestionAccept(Strict):
    decision_id: str = Field(min_length=1, max_length=100)
    index: int = Field(ge=0, le=20)
    text: str | None = Field(default=None, min_length=1, max_length=4096)


class SuggestionDismiss(Strict):
    decision_id: str = Field(min_length=1, max_length=100)
    index: int = Field(ge=0, le=20)


class SuggestionDismissed(BaseModel):
    decision_id: str
    index: int
    state: Literal["dismissed"]


# Metrics, contacts, audit


class MetricsQuery(Strict):
    from_: date | None = Field(default=None, alias="from")
    to: date | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class DailyFigures(BaseModel):
    date: date
    conversations_started: int
    answered_by_agent: int
    handoffs: int
    meetings_booked: int


class Metrics(BaseModel):
    from_: date = Field(serialization_alias="from")
    to: date
    timezone: str
    conversations_started: int
    answered_by_agent: int
    agent_messages: int
    silences_by_reason: dict[str, int]
    handoffs: int
    meetings_booked: int
    followups_sent: int
    followups_answered: int
    median_first_response_seconds: float | None
    suggestions_offered: int
    suggestions_accepted: int
    daily: list[DailyFigures]


class ContactExport(BaseModel):
    contact: dict[str, Any]
    conversations: list[dict[str, Any]]
    exported_at: datetime


class Deleted(BaseModel):
    deleted: dict[str, int]


class AuditQuery(Strict):
    limit: int = Field(default=50, ge=1, le=200)


class AuditEntry(BaseModel):
    id: str
    at: datetime
    actor_uid: str
    actor_email: str | None
    action: str
    target: str
    before: Any
    after: Any


class AuditLog(BaseModel):
    entries: list[AuditEntry]


# Knowledge base (shared/admin/knowledge.py)


class KnowledgeEntryIn(Strict):
    """A typed entry: qa needs question and answer; fact, price_list and policy need content."""

    kind: Literal["qa", "fact", "price_list", "policy"]
    title: str = Field(min_length=1, max_length=200)
    question: str | None = Field(default=None, min_length=1, max_length=1000)
    answer: str | None = Field(default=None, min_length=1, max_length=10_000)
    content: str | None = Field(default=None, min_length=1, max_length=20_000)


class KnowledgeFileIn(Strict):
    """A file to read into the knowledge base: PDF, DOCX, plain text, Markdown or CSV."""

    filename: str = Field(min_length=1, max_length=200)
    mime_type: str = Field(min_length=1, max_length=200)
    content_base64: str = Field(min_length=1, description="the file's bytes, base64 (<= 10 MB)")
    title: str | None = Field(default=None, min_length=1, max_length=200)


class KnowledgeEntryOut(BaseModel):
    """An entry; a file's content is its extracted text, cut to a preview here."""

    entry_id: str
    kind: Literal["qa", "fact", "price_list", "policy", "file"]
    title: str
    question: str | None
    answer: str | None
    content: str
    content_chars: int
    source: Literal["manual", "upload", "learned"]
    filename: str | None
    mime_type: str | None
    size_bytes: int | None
    chunk_count: int
    embedding_model: str | None
    created_at: datetime
    updated_at: datetime
    created_by_email: str | None


class KnowledgeList(BaseModel):
    entries: list[KnowledgeEntryOut]
    embedding_model: str
    offline: bool


class KnowledgeSearch(Strict):
    query: str = Field(min_length=1, max_length=1000)


class KnowledgeSearchResult(BaseModel):
    entry_id: str
    title: str
    kind: Literal["qa", "fact", "price_list", "policy", "file"]
    text: str
    score: float


class KnowledgeSearchResults(BaseModel):
    """What the agent would find for the query (snippets at or above min_score only)."""

    results: list[KnowledgeSearchResult]
    min_score: float
    embedding_model: str


# Insight agents and insights (shared/admin/insight_agents.py, shared/admin/insights.py)


class AgentOut(InsightAgent):
    """A stored insight agent, and whether the inbox shows its button."""

    macro: bool = Field(description="Active, with a MACRO_BUTTON_CLICKED trigger.")


class AgentList(BaseModel):
    agents: list[AgentOut]


class TemplateOut(BaseModel):
    """One agent of the template library, as it is added (then editable)."""

    key: str
    name: str
    icon: str
    description: str
    spec: InsightAgentSpec


class TemplateList(BaseModel):
    templates: list[TemplateOut]


class FromTemplate(Strict):
    template: str = Field(min_length=1, max_length=60)


class AgentActive(Strict):
    active: bool


class InsightQuery(Strict):
    """The feed: a seller passes a conversation they may work on; managers may pass none."""

    conversation_id: str | None = Field(default=None, min_length=1, max_length=1024)
    status: Literal["RUNNING", "SUGGESTION", "APPLIED", "DISMISSED", "FAILED"] | None = None
    agent_id: str | None = Field(default=None, min_length=1, max_length=1024)
    limit: int = Field(default=50, ge=1, le=100)


class InsightList(BaseModel):
    insights: list[Insight]


class MacroPressed(BaseModel):
    event_id: str


class TrafficQuery(Strict):
    days: int = Field(default=30, ge=1, le=365)


class ReasonCount(BaseModel):
    reason: str
    count: int


class Campaign(BaseModel):
    """The lost conversations of one ad (or of leads without an ad: key ``organic``)."""

    key: str
    source_id: str | None
    headline: str | None
    source_url: str | None
    lost: int
    reasons: list[ReasonCount]
    details: list[str] = Field(description="Up to 5 of the latest details, newest first.")


class TrafficReport(BaseModel):
    since: datetime
    until: datetime
    campaigns: list[Campaign]


class ConversionsIn(Strict):
    """The tenant's Meta dataset for the Conversions API; the token goes to the secret store."""

    dataset_id: str = Field(pattern=r"^[0-9]{1,30}$", description="The Meta dataset (pixel) id.")
    access_token: str | None = Field(
        default=None,
        min_length=1,
        max_length=4096,
        description="Required the first time; leave it out to keep the saved token.",
    )
    currency: str = Field(default="BRL", pattern=r"^[A-Z]{3}$")


class ConversionsOut(BaseModel):
    """What is configured (never the token)."""

    configured: bool
    dataset_id: str | None = None
    currency: str | None = None
    updated_at: datetime | None = None


# Billing and client workspaces (shared/admin/billing.py, shared/admin/workspaces.py)


class PlanOut(BaseModel):
    """One plan of the catalogue, as the console offers it."""

    plan_id: str
    name: str
    price_cents: int
    quotas: Quotas
    grace_percent: int


class PlanList(BaseModel):
    currency: str
    trial_days: int
    plans: list[PlanOut]


class NoticeOut(BaseModel):
    """A banner for the owner: a quota warning this month or a stopped service."""

    notice_id: str
    kind: Literal["quota_warning", "quota_reached", "quota_exceeded", "service_stopped"]
    created_at: datetime
    month: str | None = None
    quota: str | None = None


class WorkspaceUsage(BaseModel):
    tenant_id: str
    name: str
    usage: list[UsageLine]


class BillingOut(BaseModel):
    """A workspace's subscription (its billing account's), usage this month and notices."""

    account_id: str
    home_tenant_id: str
    home_tenant_name: str
    manages_billing: bool = Field(
        description="The caller owns the home workspace and this is the home workspace."
    )
    plan: PlanOut
    status: Literal["trialing", "active", "past_due", "canceled"]
    trial_ends_at: datetime | None
    past_due_since: datetime | None
    grace_ends_at: datetime | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    has_subscription: bool
    agent_on: bool
    read_only: bool
    stop_reason: Literal["trial_expired", "past_due_expired", "canceled"] | None
    month: str = Field(pattern=r"^\d{4}-\d{2}$")
    usage: list[UsageLine]
    notices: list[NoticeOut]
    workspaces: list[WorkspaceUsage] = Field(
        description="The account's workspaces (home first) with their replies this month; "
        "only for whoever manages billing."
    )


class PlanChoice(Strict):
    plan_id: str = Field(pattern=r"^[a-z][a-z0-9_-]{1,31}$")


class CheckoutOut(BaseModel):
    url: str = Field(description="Stripe Checkout's page: the console sends the owner there.")
    session_id: str


class PortalOut(BaseModel):
    url: str = Field(description="Stripe Customer Portal's page for the account's customer.")


class WorkspaceCreate(TenantCreate):
    """A client workspace under the caller's (agency) billing account."""


class WorkspaceOut(BaseModel):
    tenant_id: str
    name: str
    created_at: datetime | None
    usage: list[UsageLine]


class WorkspaceList(BaseModel):
    workspaces: list[WorkspaceOut]
    limit: int = Field(description="Client workspaces the plan allows besides the home one.")
    used: int
