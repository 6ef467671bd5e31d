"""The Pub/Sub topology: topics and the functions their push subscriptions feed.

Terraform provisions the same names in production; ``make dev`` creates them on the emulator.
"""

from __future__ import annotations

from dataclasses import dataclass

CONVERSATION_EVENTS = "conversation-events"
OUTBOUND_MESSAGES = "outbound-messages"
INSIGHT_EVENTS = "insight-events"  # shared.insights.models.INSIGHT_EVENTS_TOPIC
BUSINESS_EVENTS = "business-events"  # shared.integrations.models.BUSINESS_EVENTS_TOPIC


@dataclass(frozen=True)
class Subscription:
    """A subscription on a topic: push to a function's path, or pull when ``push_to`` is None."""

    name: str
    topic: str
    push_to: str | None
    ordered: bool = True
    ack_deadline_seconds: int = 60
    """How long Pub/Sub waits for the push answer (terraform's pubsub.tf says the same)."""


TOPICS: tuple[str, ...] = (CONVERSATION_EVENTS, OUTBOUND_MESSAGES, INSIGHT_EVENTS, BUSINESS_EVENTS)

# The agent function takes every conversation event in; a pull "tap" on the same topic lets a
# developer see what the webhook published (`piloto events pull`). The sender takes every
# message a decision wants sent, in order per conversation. The insights function runs the
# tenant's insight agents on each insight event (no order needed: every event stands alone).
# The integrations function fans each business event out into deliveries (webhooks, the CRM,
# e-mail), each then retried on its own through Cloud Tasks: no order needed either.
SUBSCRIPTIONS: tuple[Subscription, ...] = (
    # The agent fetches and understands a lead's media before it answers the push.
    Subscription(
        name="conversation-events-agent",
        topic=CONVERSATION_EVENTS,
        push_to="agent",
        ack_deadline_seconds=300,
    ),
    Subscription(name="conversation-events-tap", topic=CONVERSATION_EVENTS, push_to=None),
    # The sender may wait for the channel's send rate, then retry the provider.
    Subscription(
        name="outbound-messages-sender",
        topic=OUTBOUND_MESSAGES,
        push_to="sender",
        ack_deadline_seconds=120,
    ),
    # An insight run may call the model twice (one retry on an invalid answer).
    Subscription(
        name="insight-events-insights",
        topic=INSIGHT_EVENTS,
        push_to="insights",
        ordered=False,
        ack_deadline_seconds=120,
    ),
    Subscription(
        name="business-events-integrations",
        topic=BUSINESS_EVENTS,
        push_to="integrations",
        ordered=False,
        ack_deadline_seconds=60,
    ),
)


def ensure_topology(project_id: str, push_endpoints: dict[str, str]) -> list[str]:
    """Create every topic and subscription that does not exist yet; return what was created.

    An existing push subscription is pointed at the given URL (functions served elsewhere now).

    ``push_endpoints`` maps a subscription's ``push_to`` name to the URL of the function that
    serves it (local functions-framework ports in development); a push subscription whose
    function has no URL there is skipped and reported.
    """
    import google.cloud.pubsub_v1 as pubsub_v1
    from google.api_core import exceptions

    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    created: list[str] = []
    for topic in TOPICS:
        try:
            publisher.create_topic(name=publisher.topic_path(project_id, topic))
            created.append(f"topic {topic}")
        except exceptions.AlreadyExists:
            pass
    for subscription in SUBSCRIPTIONS:
        request: dict[str, object] = {
            "name": subscriber.subscription_path(project_id, subscription.name),
            "topic": publisher.topic_path(project_id, subscription.topic),
            "enable_message_ordering": subscription.ordered,
            "ack_deadline_seconds": subscription.ack_deadline_seconds,
        }
        if subscription.push_to is not None:
            if subscription.push_to not in push_endpoints:
                created.append(f"nothing for {subscription.name}: no {subscription.push_to} URL")
                continue
            request["push_config"] = {"push_endpoint": push_endpoints[subscription.push_to]}
        try:
            subscriber.create_subscription(request=request)
            created.append(f"subscription {subscription.name}")
        except exceptions.AlreadyExists:
            if "push_config" in request:  # a restarted loop serves it elsewhere: push there
                subscriber.modify_push_config(
                    request={"subscription": request["name"], "push_config": request["push_config"]}
                )
    subscriber.close()
    return created
