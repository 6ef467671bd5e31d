"""The admin API's route table, its services, and the handlers too small for a module of their own.

``ROUTES`` is the single description of the API: dispatch (``shared.admin.http``) and the
OpenAPI document (``GET /api/openapi.json``) both read it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from shared.admin import (
    agent,
    api_keys,
    billing,
    calendar,
    channels,
    contacts,
    conversations,
    google_calendar,
    insight_agents,
    insights,
    intents,
    knowledge,
    metrics,
    proposals,
    public_api,
    tenants,
    webhooks,
    workspaces,
)
from shared.admin import crm as crm_connection  # H7: RD Station CRM
from shared.admin import notifications as notification_center  # H8: the bell
from shared.admin.access import EVERYONE, MANAGERS, OWNERS
from shared.admin.audit import recent_entries
from shared.admin.auth import Caller
from shared.admin.http import Request, Route, Router, openapi_document
from shared.admin.schemas import (
    AgentActive,
    AgentList,
    AgentOut,
    Assign,
    AuditEntry,
    AuditLog,
    AuditQuery,
    BillingOut,
    ChannelCreate,
    ChannelList,
    ChannelOut,
    ChannelUpdate,
    CheckoutOut,
    Close,
    ConsoleConfig,
    ContactExport,
    ConversationDetail,
    ConversationList,
    ConversationQuery,
    ConversationSummary,
    ConversionsIn,
    ConversionsOut,
    Deleted,
    FirebaseWebConfig,
    FromTemplate,
    Health,
    InsightList,
    InsightQuery,
    InviteCreate,
    InviteOut,
    KnowledgeEntryIn,
    KnowledgeEntryOut,
    KnowledgeFileIn,
    KnowledgeList,
    KnowledgeSearch,
    KnowledgeSearchResults,
    MacroPressed,
    Me,
    MemberOut,
    Metrics,
    MetricsQuery,
    ModeChange,
    PlanChoice,
    PlanList,
    PortalOut,
    Providers,
    RoleChange,
    SellerMessage,
    SentMessage,
    SuggestionAccept,
    SuggestionDismiss,
    SuggestionDismissed,
    Team,
    TemplateList,
    TenantCreate,
    TenantOut,
    TenantUpdate,
    TrafficQuery,
    TrafficReport,
    WorkspaceCreate,
    WorkspaceList,
)
from shared.copilot import IntentStats
from shared.insights.models import Insight, InsightAgentSpec, InsightEvent
from shared.knowledge.embeddings import OfflineEmbedder
from shared.knowledge.proposals import KnowledgeProposal
from shared.models.conversation import Conversation
from shared.models.decision import Decision
from shared.models.tenant import AgentSettings

if TYPE_CHECKING:
    import httpx
    import stripe

    from shared.insights.events import InsightPublisher
    from shared.integrations.dispatch import ScheduleDelivery
    from shared.integrations.models import DeliveryTask
    from shared.integrations.outbox import PublishEvents
    from shared.knowledge.embeddings import Embedder
    from shared.secret_store import SecretStore
    from shared.settings import Settings

API_VERSION = "1.0.0"


def _no_insight_publisher(events: Sequence[InsightEvent]) -> None:
    raise RuntimeError("no insight publisher is configured")


def _no_stripe() -> stripe.StripeClient:
    raise RuntimeError("no Stripe client is configured")


@dataclass
class AdminServices:
    """What the handlers use: storage, identity, sending, secrets, the clock."""

    settings: Settings
    firestore: Any
    verify_token: Callable[[str], Caller]
    deliver: Callable[[Conversation, Decision], None]
    secret_store: SecretStore
    http: httpx.Client
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    embedder: Embedder = field(default_factory=OfflineEmbedder)
    publish_insights: InsightPublisher = field(default=_no_insight_publisher)
    """Publishes insight events (TICKET_*, macro presses); made on first use."""
    stripe: Callable[[], stripe.StripeClient] = field(default=_no_stripe)
    """Returns the Stripe client (``PILOTO_STRIPE_API_BASE``, key resolved on first use)."""
    # Outbound webhooks and the public API (H6): delivery attempts of "send a test event" and
    # "redeliver" go on Cloud Tasks (None: no delivery URL/queue configured, they answer 503);
    # business events the public API stages are published after the commit.
    schedule_delivery: ScheduleDelivery | None = None
    publish_events: PublishEvents | None = None


def health(request: Request) -> Health:
    """Answer that the API is up (no storage is touched)."""
    return Health(status="ok")


def console_config(request: Request) -> ConsoleConfig:
    """Return the console's Firebase web settings (and the Auth emulator's address locally)."""
    settings = request.services.settings
    emulator = settings.firebase_auth_emulator_host
    return ConsoleConfig(
        firebase=FirebaseWebConfig(
            api_key=settings.firebase_web_api_key,
            auth_domain=settings.firebase_auth_domain or f"{settings.project_id}.firebaseapp.com",
            project_id=settings.project_id,
        ),
        auth_emulator_url=f"http://{emulator}" if emulator else None,
    )


def openapi(request: Request) -> dict[str, Any]:
    """Return the OpenAPI document of this API."""
    return openapi_spec()


def audit_log(request: Request, tenant_id: str) -> AuditLog:
    """Return the latest changes made through the API."""
    query: AuditQuery = request.query
    entries = recent_entries(request.services.firestore, tenant_id, query.limit)
    return AuditLog(entries=[AuditEntry.model_validate(entry) for entry in entries])


T = "/api/tenants/<tenant_id>"
C = f"{T}/conversations/<conversation_id>"
W = f"{T}/webhooks/<endpoint_id>"

ROUTES: list[Route] = [
    Route("GET", "/api/health", health, "Health check", "public", response=Health),
    Route("GET", "/api/config", console_config, "Console settings", "public",
          response=ConsoleConfig),
    Route("GET", "/api/providers", channels.providers, "Provider fields", "public",
          response=Providers),
    Route("GET", "/api/openapi.json", openapi, "This document", "public"),
    Route("GET", "/api/me", tenants.me, "The caller and their tenants", "user", response=Me),
    Route("POST", "/api/tenants", tenants.create_tenant, "Sign up: create a tenant", "user",
          body=TenantCreate, response=TenantOut, status=201),
    Route("POST", f"{T}/invites/accept", tenants.accept_invite, "Accept an invitation", "user",
          response=TenantOut),
    Route("GET", T, tenants.get_tenant, "The tenant", roles=EVERYONE, response=TenantOut),
    Route("PATCH", T, tenants.update_tenant, "Change the tenant", roles=MANAGERS,
          body=TenantUpdate, response=TenantOut),
    Route("GET", f"{T}/members", tenants.team, "The team", roles=MANAGERS, response=Team),
    Route("POST", f"{T}/invites", tenants.invite, "Invite someone", roles=OWNERS,
          body=InviteCreate, response=InviteOut, status=201),
    Route("DELETE", f"{T}/invites/<email>", tenants.revoke_invite, "Revoke an invitation",
          roles=OWNERS, status=204),
    Route("PATCH", f"{T}/members/<uid>", tenants.change_role, "Change a member's role",
          roles=OWNERS, body=RoleChange, response=MemberOut),
    Route("DELETE", f"{T}/members/<uid>", tenants.remove_member, "Remove a member",
          roles=OWNERS, status=204),
    Route("GET", f"{T}/channels", channels.list_channels, "The channels", roles=MANAGERS,
          response=ChannelList),
    Route("POST", f"{T}/channels", channels.create_channel, "Connect a channel", roles=MANAGERS,
          body=ChannelCreate, response=ChannelOut, status=201),
    Route("GET", f"{T}/channels/<channel_id>", channels.get_channel, "One channel",
          roles=MANAGERS, response=ChannelOut),
    Route("PATCH", f"{T}/channels/<channel_id>", channels.update_channel, "Change a channel",
          roles=MANAGERS, body=ChannelUpdate, response=ChannelOut),
    Route("DELETE", f"{T}/channels/<channel_id>", channels.delete_channel, "Disconnect a channel",
          roles=MANAGERS, status=204),
    Route("GET", f"{T}/agent", agent.get_agent, "Agent settings", roles=EVERYONE,
          response=AgentSettings),
    Route("PUT", f"{T}/agent", agent.put_agent, "Save the agent settings", roles=MANAGERS,
          body=AgentSettings, response=AgentSettings),
    Route("GET", f"{T}/conversations", conversations.list_conversations, "The inbox",
          roles=EVERYONE, query=ConversationQuery, response=ConversationList),
    Route("GET", C, conversations.conversation_detail, "One conversation", roles=EVERYONE,
          response=ConversationDetail),
    Route("POST", f"{C}/takeover", conversations.take_over, "Take over", roles=EVERYONE,
          response=ConversationSummary),
    Route("POST", f"{C}/release", conversations.release, "Release to the agent", roles=EVERYONE,
          response=ConversationSummary),
    Route("POST", f"{C}/assign", conversations.assign, "Assign", roles=EVERYONE, body=Assign,
          response=ConversationSummary),
    Route("POST", f"{C}/close", conversations.close, "Close", roles=EVERYONE, body=Close,
          response=ConversationSummary),
    Route("POST", f"{C}/mode", conversations.set_mode, "Pilot or copilot", roles=MANAGERS,
          body=ModeChange, response=ConversationSummary),
    Route("POST", f"{C}/messages", conversations.send_message, "Send as the seller",
          roles=EVERYONE, body=SellerMessage, response=SentMessage, status=202),
    Route("POST", f"{C}/suggestions/accept", conversations.accept_suggestion,
          "Send a copilot suggestion", roles=EVERYONE, body=SuggestionAccept,
          response=SentMessage, status=202),
    Route("POST", f"{C}/suggestions/dismiss", conversations.dismiss_suggestion,
          "Dismiss a copilot suggestion", roles=EVERYONE, body=SuggestionDismiss,
          response=SuggestionDismissed),
    Route("GET", f"{T}/metrics", metrics.metrics, "Dashboard figures", roles=MANAGERS,
          query=MetricsQuery, response=Metrics),
    Route("GET", f"{T}/contacts/<contact_key>/export", contacts.export_contact,
          "Export a contact's data (LGPD)", roles=MANAGERS, response=ContactExport),
    Route("DELETE", f"{T}/contacts/<contact_key>", contacts.delete_contact,
          "Erase a contact's data (LGPD)", roles=MANAGERS, response=Deleted,
          while_read_only=True),
    Route("GET", f"{T}/knowledge", knowledge.list_knowledge, "The knowledge base",
          roles=EVERYONE, response=KnowledgeList),
    Route("POST", f"{T}/knowledge", knowledge.create_entry, "Add knowledge", roles=MANAGERS,
          body=KnowledgeEntryIn, response=KnowledgeEntryOut, status=201),
    Route("POST", f"{T}/knowledge/files", knowledge.upload_file, "Read a file into knowledge",
          roles=MANAGERS, body=KnowledgeFileIn, response=KnowledgeEntryOut, status=201,
          max_body_bytes=knowledge.FILE_BODY_BYTES),
    Route("POST", f"{T}/knowledge/search", knowledge.search_knowledge,
          "What the agent would find", roles=EVERYONE, body=KnowledgeSearch,
          response=KnowledgeSearchResults, while_read_only=True),
    Route("PUT", f"{T}/knowledge/<entry_id>", knowledge.update_entry, "Change knowledge",
          roles=MANAGERS, body=KnowledgeEntryIn, response=KnowledgeEntryOut),
    Route("DELETE", f"{T}/knowledge/<entry_id>", knowledge.delete_knowledge,
          "Delete knowledge", roles=MANAGERS, status=204),
    Route("GET", f"{T}/knowledge/proposals", proposals.list_proposals,
          "Answers learned from handoffs", roles=EVERYONE, query=proposals.ProposalQuery,
          response=proposals.ProposalList),
    Route("POST", f"{T}/knowledge/proposals/<proposal_id>/approve", proposals.approve_proposal,
          "Approve a learned answer (as edited)", roles=MANAGERS, body=proposals.ProposalApprove,
          response=proposals.ProposalApproved),
    Route("POST", f"{T}/knowledge/proposals/<proposal_id>/reject", proposals.reject_proposal,
          "Reject a learned answer", roles=MANAGERS, body=proposals.ProposalReject,
          response=KnowledgeProposal),
    Route("GET", f"{T}/copilot/intents", intents.list_intents, "Copilot acceptance per intent",
          roles=EVERYONE, query=intents.IntentsQuery, response=intents.IntentList),
    Route("PUT", f"{T}/copilot/intents/<intent>", intents.set_intent_mode,
          "Pilot or copilot for one intent", roles=OWNERS, body=intents.IntentModeChange,
          response=IntentStats),
    Route("GET", f"{T}/insight-templates", insight_agents.list_insight_templates,
          "The insight agent templates", roles=MANAGERS, response=TemplateList),
    Route("GET", f"{T}/insight-agents", insight_agents.list_insight_agents, "The insight agents",
          roles=EVERYONE, response=AgentList),
    Route("POST", f"{T}/insight-agents", insight_agents.create_insight_agent,
          "Create an insight agent", roles=MANAGERS, body=InsightAgentSpec, response=AgentOut,
          status=201),
    Route("POST", f"{T}/insight-agents/from-template",
          insight_agents.create_insight_agent_from_template,
          "Add an insight agent from a template", roles=MANAGERS, body=FromTemplate,
          response=AgentOut, status=201),
    Route("GET", f"{T}/insight-agents/<agent_id>", insight_agents.get_insight_agent,
          "One insight agent", roles=EVERYONE, response=AgentOut),
    Route("PUT", f"{T}/insight-agents/<agent_id>", insight_agents.replace_insight_agent,
          "Change an insight agent", roles=MANAGERS, body=InsightAgentSpec, response=AgentOut),
    Route("PATCH", f"{T}/insight-agents/<agent_id>", insight_agents.set_insight_agent_active,
          "Switch an insight agent on or off", roles=MANAGERS, body=AgentActive,
          response=AgentOut),
    Route("DELETE", f"{T}/insight-agents/<agent_id>", insight_agents.delete_insight_agent,
          "Delete an insight agent (its insights stay)", roles=MANAGERS, status=204),
    Route("GET", f"{T}/insights", insights.list_insights, "The insight feed", roles=EVERYONE,
          query=InsightQuery, response=InsightList),
    Route("GET", f"{T}/insights/traffic-report", insights.traffic_report,
          "Lost reasons per ad campaign", roles=MANAGERS, query=TrafficQuery,
          response=TrafficReport),
    Route("POST", f"{T}/insights/<insight_id>/apply", insights.apply_insight,
          "Apply an insight", roles=EVERYONE, response=Insight),
    Route("POST", f"{T}/insights/<insight_id>/dismiss", insights.dismiss_insight,
          "Dismiss an insight", roles=EVERYONE, response=Insight),
    Route("POST", f"{C}/macros/<agent_id>", insight_agents.press_macro,
          "Run an insight agent on the conversation (its button)", roles=EVERYONE,
          response=MacroPressed, status=202),
    Route("GET", f"{T}/conversions", insights.get_conversions,
          "Meta Conversions API settings", roles=OWNERS, response=ConversionsOut),
    Route("PUT", f"{T}/conversions", insights.put_conversions,
          "Save the Meta Conversions API settings", roles=OWNERS, body=ConversionsIn,
          response=ConversionsOut),
    Route("DELETE", f"{T}/conversions", insights.delete_conversions,
          "Forget the Meta Conversions API settings", roles=OWNERS, status=204),
    Route("GET", f"{T}/audit", audit_log, "The audit log", roles=MANAGERS, query=AuditQuery,
          response=AuditLog),
    Route("GET", "/api/plans", billing.list_plans, "The plans on offer", "user",
          response=PlanList),
    Route("GET", f"{T}/billing", billing.get_billing, "Subscription, usage and notices",
          roles=MANAGERS, response=BillingOut),
    Route("POST", f"{T}/billing/checkout", billing.start_checkout,
          "Start Stripe Checkout for a plan (home workspace)", roles=OWNERS, body=PlanChoice,
          response=CheckoutOut, billing=True),
    Route("POST", f"{T}/billing/plan", billing.change_plan,
          "Change the subscription's plan (home workspace)", roles=OWNERS, body=PlanChoice,
          response=BillingOut, billing=True),
    Route("POST", f"{T}/billing/portal", billing.open_portal,
          "Open Stripe's Customer Portal (home workspace)", roles=OWNERS, response=PortalOut,
          billing=True),
    Route("GET", f"{T}/workspaces", workspaces.list_workspaces,
          "The billing account's workspaces and their usage", roles=OWNERS,
          response=WorkspaceList),
    Route("POST", f"{T}/workspaces", workspaces.create_workspace, "Create a client workspace",
          roles=OWNERS, body=WorkspaceCreate, response=TenantOut, status=201),
    # Notifications (H8): the caller's own bell and preferences; marking read and choosing
    # what to receive stay open while the workspace is read-only.
    Route("GET", f"{T}/notifications", notification_center.list_notifications,
          "The caller's notifications", roles=EVERYONE,
          query=notification_center.NotificationsQuery,
          response=notification_center.NotificationList),
    Route("POST", f"{T}/notifications/read", notification_center.mark_read,
          "Mark the caller's notifications read", roles=EVERYONE,
          body=notification_center.MarkRead, response=notification_center.UnreadCount,
          while_read_only=True),
    Route("GET", f"{T}/notification-preferences", notification_center.get_preferences,
          "The caller's notification preferences", roles=EVERYONE,
          response=notification_center.PreferencesOut),
    Route("PUT", f"{T}/notification-preferences", notification_center.put_preferences,
          "Choose which notifications to receive", roles=EVERYONE,
          body=notification_center.PreferencesIn, response=notification_center.PreferencesOut,
          while_read_only=True),
    # Outbound webhooks, API keys and the public API (H6)
    Route("GET", f"{T}/webhooks", webhooks.list_endpoints, "The outbound webhook endpoints",
          roles=MANAGERS, response=webhooks.EndpointList),
    Route("POST", f"{T}/webhooks", webhooks.create_endpoint, "Add an outbound webhook endpoint",
          roles=MANAGERS, body=webhooks.EndpointIn, response=webhooks.EndpointCreated,
          status=201),
    Route("PATCH", f"{W}", webhooks.update_endpoint, "Change a webhook endpoint",
          roles=MANAGERS, body=webhooks.EndpointPatch, response=webhooks.EndpointOut),
    Route("DELETE", f"{W}", webhooks.delete_endpoint, "Delete a webhook endpoint",
          roles=MANAGERS, response=webhooks.EndpointDeleted),
    Route("POST", f"{W}/secret", webhooks.rotate_secret, "Rotate an endpoint's signing secret",
          roles=MANAGERS, response=webhooks.EndpointCreated),
    Route("POST", f"{W}/test", webhooks.send_test, "Send a test event to an endpoint",
          roles=MANAGERS, response=webhooks.DeliveryAccepted, status=202),
    Route("GET", f"{W}/deliveries", webhooks.list_deliveries, "An endpoint's latest deliveries",
          roles=MANAGERS, query=webhooks.DeliveriesQuery, response=webhooks.DeliveryList),
    Route("POST", f"{W}/deliveries/<delivery_id>/redeliver", webhooks.redeliver,
          "Attempt a delivery again", roles=MANAGERS, response=webhooks.DeliveryOut,
          status=202),
    Route("GET", f"{T}/api-keys", api_keys.list_keys, "The public API keys", roles=OWNERS,
          response=api_keys.ApiKeyList),
    Route("POST", f"{T}/api-keys", api_keys.create_key, "Make a public API key", roles=OWNERS,
          body=api_keys.ApiKeyCreate, response=api_keys.ApiKeyCreated, status=201),
    Route("DELETE", f"{T}/api-keys/<key_id>", api_keys.revoke_key, "Revoke a public API key",
          roles=OWNERS, response=api_keys.ApiKeyOut),
    Route("POST", "/api/v1/contacts", public_api.upsert_contact,
          "Create or update a contact by phone", "api_key", scope="contacts",
          body=public_api.ContactIn, response=public_api.ContactOut, status=201, also=(200,),
          tag="public-api"),
    Route("POST", "/api/v1/conversations", public_api.start_conversation,
          "Start a conversation with an approved template", "api_key", scope="conversations",
          body=public_api.ConversationStart, response=public_api.ConversationStarted,
          status=202, tag="public-api"),
    Route("GET", "/api/v1/conversations/<conversation_id>", public_api.get_conversation,
          "A conversation's status, stage and meeting", "api_key", scope="conversations",
          response=public_api.ConversationOut, tag="public-api"),
    Route("POST", "/api/v1/conversations/<conversation_id>/macros/<agent_id>",
          public_api.run_macro, "Run an insight agent on a conversation", "api_key",
          scope="macros", response=public_api.MacroAccepted, status=202, tag="public-api"),
    # CRM: RD Station CRM (H7)
    Route("GET", f"{T}/crm", crm_connection.get_crm, "The CRM connection (RD Station CRM)",
          roles=MANAGERS, response=crm_connection.CrmOut),
    Route("PUT", f"{T}/crm", crm_connection.put_crm,
          "Connect or change the CRM (a new token is checked with RD Station first)",
          roles=MANAGERS, body=crm_connection.CrmIn, response=crm_connection.CrmOut),
    Route("GET", f"{T}/crm/pipelines", crm_connection.list_crm_pipelines,
          "The CRM account's funnels and stages", roles=MANAGERS,
          response=crm_connection.CrmPipelines),
    Route("DELETE", f"{T}/crm", crm_connection.delete_crm, "Disconnect the CRM",
          roles=MANAGERS, response=crm_connection.CrmOut),
    # Google Calendar connection (H2): Google redirects the browser to the public callback
    Route("POST", f"{T}/calendar/google/authorize", google_calendar.authorize,
          "Google's consent page to connect a calendar", roles=MANAGERS,
          response=google_calendar.GoogleAuthorizeOut),
    Route("GET", "/api/calendar/google/callback", google_calendar.callback,
          "Google's redirect after consent (redirects to the console)", "public",
          query=google_calendar.GoogleCallbackQuery, status=302),
    Route("DELETE", f"{T}/calendar/google", google_calendar.disconnect,
          "Disconnect the Google Calendar (back to the built-in calendar)", roles=MANAGERS,
          response=calendar.CalendarOut),
    # Scheduling: calendar settings, the slots the agent offers, bookings (H1b)
    Route("GET", f"{T}/calendar", calendar.get_calendar,
          "The calendar settings and the Google Calendar connection", roles=EVERYONE,
          response=calendar.CalendarOut),
    Route("PUT", f"{T}/calendar", calendar.put_calendar,
          "Save the calendar settings (business hours, meetings, reminders)", roles=MANAGERS,
          body=calendar.CalendarIn, response=calendar.CalendarOut),
    Route("GET", f"{T}/calendar/slots", calendar.get_slots,
          "The free slots the agent would offer now", roles=EVERYONE,
          response=calendar.SlotsPreview),
    Route("GET", f"{T}/bookings", calendar.list_bookings, "The meetings booked",
          roles=EVERYONE, query=calendar.BookingsQuery, response=calendar.BookingList),
    Route("POST", f"{T}/bookings/<booking_id>/cancel", calendar.cancel_booking,
          "Cancel a meeting (frees its time)", roles=EVERYONE, body=calendar.BookingCancel,
          response=calendar.BookingOut),
]  # fmt: skip


@cache
def router() -> Router:
    """Return the router over ``ROUTES`` (built once)."""
    return Router(ROUTES)


@cache
def openapi_spec() -> dict[str, Any]:
    """Return the OpenAPI document (built once)."""
    return openapi_document(ROUTES, title="Piloto admin API", version=API_VERSION)


def build_services(settings: Settings) -> AdminServices:
    """Wire the admin API to Firestore, Firebase Auth, Pub/Sub and the secret store."""
    import httpx

    from shared.admin.auth import firebase_verifier
    from shared.engine import outbound_publisher
    from shared.integrations.publish import business_event_publisher
    from shared.knowledge.embeddings import embedder_from_settings
    from shared.secret_store import LocalSecretStore, SecretManagerStore
    from shared.store.firestore import firestore_client

    store: SecretStore
    where = settings.secret_store
    use_local = where == "local" or (where == "auto" and settings.environment in ("local", "test"))
    store = LocalSecretStore() if use_local else SecretManagerStore(settings.project_id)
    return AdminServices(
        settings=settings,
        firestore=firestore_client(settings.project_id),
        verify_token=firebase_verifier(settings.project_id),
        deliver=outbound_publisher(settings),
        secret_store=store,
        http=httpx.Client(timeout=5.0),
        embedder=embedder_from_settings(settings),
        publish_insights=_on_first_use(settings),
        stripe=_stripe_on_first_use(settings),
        schedule_delivery=_deliveries_on_first_use(settings),
        publish_events=business_event_publisher(settings),
    )


def _deliveries_on_first_use(settings: Settings) -> ScheduleDelivery | None:
    """Return what schedules delivery attempts, its Cloud Tasks client made on first use
    (None without a delivery URL and queue)."""
    from shared.integrations.dispatch import delivery_scheduler

    if not settings.delivery_url or not (
        settings.delivery_queue or settings.followup_queue or settings.tasks_queue
    ):
        return None
    built: list[ScheduleDelivery] = []
    lock = threading.Lock()

    def schedule(task: DeliveryTask, at: datetime) -> None:
        with lock:
            if not built:
                made = delivery_scheduler(settings)
                assert made is not None
                built.append(made)
        built[0](task, at)

    return schedule


def _stripe_on_first_use(settings: Settings) -> Callable[[], stripe.StripeClient]:
    """Return what makes the Stripe client when billing first calls Stripe (the library and
    the key are loaded then, not at cold start)."""

    def client() -> stripe.StripeClient:
        from shared.billing.stripe_api import stripe_client

        return stripe_client(settings)

    return client


def _on_first_use(settings: Settings) -> InsightPublisher:
    """Return an insight publisher whose Pub/Sub client is created when it first publishes
    (most requests publish nothing: the admin's cold start stays cheap)."""
    from shared.insights.events import insight_publisher

    built: list[InsightPublisher] = []
    lock = threading.Lock()

    def publish(events: Sequence[InsightEvent]) -> None:
        with lock:
            if not built:
                built.append(insight_publisher(settings))
        built[0](events)

    return publish
