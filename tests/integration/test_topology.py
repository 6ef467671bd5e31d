"""The Pub/Sub topology on the emulator: push subscriptions follow the functions."""

from __future__ import annotations

from google.cloud import pubsub_v1

from emulators.stack import LocalStack
from shared.events.topology import ensure_topology


def test_a_restarted_loop_gets_the_pushes_at_its_new_address(local_stack: LocalStack) -> None:
    project = local_stack.project_id
    subscriber = pubsub_v1.SubscriberClient()
    path = subscriber.subscription_path(project, "outbound-messages-sender")

    ensure_topology(project, {"agent": "http://127.0.0.1:1/a", "sender": "http://127.0.0.1:1/s"})
    created_again = ensure_topology(
        project, {"agent": "http://127.0.0.1:2/a", "sender": "http://127.0.0.1:2/s"}
    )

    assert not any(entry.startswith("subscription") for entry in created_again)
    pushed_to = subscriber.get_subscription(request={"subscription": path}).push_config
    assert pushed_to.push_endpoint == "http://127.0.0.1:2/s"
    subscriber.close()
