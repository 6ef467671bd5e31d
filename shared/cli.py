"""The ``piloto`` command line: seed tenants, inspect events, set up Pub/Sub locally, re-embed
knowledge."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shared.logs import configure_logging

logger = logging.getLogger("piloto.cli")


def _project(args: argparse.Namespace) -> str:
    project = args.project or os.environ.get("GOOGLE_CLOUD_PROJECT")
    if not project:
        raise SystemExit("set GOOGLE_CLOUD_PROJECT or pass --project")
    return str(project)


def _seed(args: argparse.Namespace) -> int:
    from shared.seed import SeedError, apply_seed, load_seed_file
    from shared.store.firestore import firestore_client

    try:
        seed = load_seed_file(Path(args.file))
    except SeedError as error:
        sys.stderr.write(f"piloto seed: {error}\n")
        return 2
    counts = apply_seed(firestore_client(_project(args)), seed)
    target = os.environ.get("FIRESTORE_EMULATOR_HOST") or "Firestore"
    sys.stdout.write(
        f"seeded {counts['tenants']} tenant(s), {counts['channels']} channel(s), "
        f"{counts['knowledge']} knowledge entr{'y' if counts['knowledge'] == 1 else 'ies'} and "
        f"{counts['insight_agents']} insight agent(s) into {target}\n"
    )
    return 0


def _events_pull(args: argparse.Namespace) -> int:
    import google.cloud.pubsub_v1 as pubsub_v1

    subscriber = pubsub_v1.SubscriberClient()
    path = subscriber.subscription_path(_project(args), args.subscription)
    received_messages: list[Any] = []
    deadline = time.monotonic() + args.wait
    while not received_messages and time.monotonic() < deadline:
        response = subscriber.pull(
            request={"subscription": path, "max_messages": args.max},
            timeout=max(deadline - time.monotonic(), 0.5),
        )
        received_messages = list(response.received_messages)
        if not received_messages:
            time.sleep(0.2)
    ack_ids = []
    for received in received_messages:
        message = received.message
        sys.stdout.write(
            json.dumps(
                {
                    "message_id": message.message_id,
                    "ordering_key": message.ordering_key,
                    "attributes": dict(message.attributes),
                    "event": json.loads(message.data),
                },
                ensure_ascii=False,
            )
            + "\n"
        )
        ack_ids.append(received.ack_id)
    if ack_ids and not args.no_ack:
        subscriber.acknowledge(request={"subscription": path, "ack_ids": ack_ids})
    subscriber.close()
    if not ack_ids:
        sys.stderr.write(f"no events waiting on {args.subscription}\n")
    return 0


def _decisions(args: argparse.Namespace) -> int:
    from shared.store.conversations import contact_ref, conversation_ref
    from shared.store.firestore import firestore_client

    client = firestore_client(_project(args))
    contact = contact_ref(client, args.tenant, args.contact).get()
    conversation_id = contact.get("current_conversation_id") if contact.exists else None
    if not conversation_id:
        sys.stderr.write(f"no conversation with {args.contact} in tenant {args.tenant}\n")
        return 1
    conversation = conversation_ref(client, args.tenant, conversation_id)
    decisions = conversation.collection("decisions").order_by("decided_at").limit_to_last(args.last)
    for snapshot in decisions.get():
        decision = snapshot.to_dict()
        sys.stdout.write(
            json.dumps(
                {
                    "decided_at": decision["decided_at"].isoformat(),
                    "action": decision["action"],
                    "reasons": decision["reasons"],
                    "messages": [m.get("text") or m.get("template") for m in decision["messages"]],
                    "suggestions": decision.get("suggestions", []),
                    "specialist": decision.get("specialist"),
                    "model": decision.get("model"),
                    "offline_model": decision.get("offline_model"),
                },
                ensure_ascii=False,
            )
            + "\n"
        )
    status = conversation.get().to_dict() or {}
    sys.stdout.write(
        f"conversation {conversation_id}: {status.get('status')}"
        f" (close reason: {status.get('close_reason')})\n"
    )
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from shared.simulator.run import simulate
    from shared.simulator.scenario import ScenarioError, load_scenario

    try:
        scenarios = [load_scenario(Path(file)) for file in args.files]
    except ScenarioError as error:
        sys.stderr.write(f"piloto simulate: {error}\n")
        return 2
    client: Any
    if args.emulators:
        if not os.environ.get("FIRESTORE_EMULATOR_HOST"):
            sys.stderr.write("piloto simulate --emulators: FIRESTORE_EMULATOR_HOST is not set\n")
            return 2
        from google.cloud import firestore

        client = firestore.Client(project=_project(args))
    else:
        from shared.store.memory import MemoryFirestore

        client = MemoryFirestore()
    failures = [
        failure for scenario in scenarios for failure in simulate(scenario, client, sys.stdout)
    ]
    for failure in failures:
        sys.stderr.write(f"FAILED {failure}\n")
    passed = len(scenarios) - len({failure.split(": step")[0] for failure in failures})
    sys.stderr.write(f"{passed} of {len(scenarios)} scenario(s) passed\n")
    return 1 if failures else 0


def _knowledge_reembed(args: argparse.Namespace) -> int:
    from shared.knowledge.embeddings import embedder_from_settings
    from shared.knowledge.store import reembed
    from shared.settings import SettingsError, load_settings
    from shared.store.firestore import firestore_client

    project = _project(args)
    try:
        settings = load_settings({**os.environ, "GOOGLE_CLOUD_PROJECT": project})
    except SettingsError as error:
        sys.stderr.write(f"piloto knowledge reembed: {error}\n")
        return 2
    embedder = embedder_from_settings(settings)
    reports = reembed(firestore_client(project), args.tenant, embedder)
    for report in reports:
        if report.entries or args.tenant:
            sys.stdout.write(
                f"{report.tenant_id}: {report.entries} entr{'y' if report.entries == 1 else 'ies'}"
                f" ({report.chunks} chunks) re-embedded\n"
            )
    entries = sum(report.entries for report in reports)
    label = "offline" if embedder.offline else "Vertex AI"
    sys.stdout.write(
        f"{entries} entries in {len(reports)} tenant(s) now use {embedder.model_name} ({label})\n"
    )
    return 0


def _pubsub_setup(args: argparse.Namespace) -> int:
    from shared.events.topology import ensure_topology

    endpoints = dict(item.split("=", 1) for item in args.push)
    for line in ensure_topology(_project(args), endpoints):
        sys.stdout.write(f"created {line}\n")
    return 0


def _chat(args: argparse.Namespace) -> int:
    from emulators.chat import run_chat
    from shared.store.firestore import firestore_client

    channel_id = args.channel_id or f"demo-{args.channel}"
    return run_chat(
        simulator_url=args.simulator,
        provider=args.channel,
        channel_id=channel_id,
        tenant_id=args.tenant,
        phone=args.phone,
        name=args.name,
        firestore=firestore_client(_project(args)),
        lines=sys.stdin,
        linger=args.wait,
    )


def build_parser() -> argparse.ArgumentParser:
    """Describe the command line."""
    parser = argparse.ArgumentParser(prog="piloto", description=__doc__)
    parser.add_argument("--project", help="GCP project id (default: $GOOGLE_CLOUD_PROJECT)")
    commands = parser.add_subparsers(dest="command", required=True)

    seed = commands.add_parser("seed", help="load tenants, channels and agent settings from YAML")
    seed.add_argument("file", help="the seed file, e.g. emulators/seed/demo.yaml")
    seed.set_defaults(run=_seed)

    events = commands.add_parser("events", help="inspect events on Pub/Sub")
    events_commands = events.add_subparsers(dest="events_command", required=True)
    pull = events_commands.add_parser("pull", help="print the events waiting on a subscription")
    pull.add_argument("--subscription", default="conversation-events-tap")
    pull.add_argument("--max", type=int, default=50)
    pull.add_argument("--wait", type=float, default=5.0, help="seconds to wait for events")
    pull.add_argument("--no-ack", action="store_true", help="leave the events on the subscription")
    pull.set_defaults(run=_events_pull)

    decisions = commands.add_parser(
        "decisions", help="print the latest decisions with a contact, and why they were taken"
    )
    decisions.add_argument("tenant", help="tenant id, e.g. demo-clinica")
    decisions.add_argument("contact", help="contact key: the E.164 phone, e.g. +5511987654321")
    decisions.add_argument("--last", type=int, default=10)
    decisions.set_defaults(run=_decisions)

    simulate = commands.add_parser(
        "simulate", help="run scenario files through the engine; non-zero exit when one fails"
    )
    simulate.add_argument("files", nargs="+", help="scenario YAML files (tests/scenarios/*.yaml)")
    simulate.add_argument(
        "--emulators",
        action="store_true",
        help="keep state in the running Firestore emulator (FIRESTORE_EMULATOR_HOST) "
        "instead of the in-process store",
    )
    simulate.set_defaults(run=_simulate)

    chat = commands.add_parser(
        "chat", help="write to the local demo business as a lead (needs `make dev` running)"
    )
    chat.add_argument("--channel", choices=["meta", "twilio", "evolution", "zapi"], default="meta")
    chat.add_argument("--channel-id", help="default: demo-<channel>")
    chat.add_argument("--tenant", default="demo-clinica")
    chat.add_argument("--phone", default="+5511987654321", help="the lead's E.164 phone")
    chat.add_argument("--name", default="Mariana", help="the lead's WhatsApp profile name")
    chat.add_argument(
        "--simulator",
        default=f"http://127.0.0.1:{os.environ.get('PILOTO_DEV_SIMULATOR_PORT', '8700')}",
        help="the provider simulator of `make dev`",
    )
    chat.add_argument(
        "--wait", type=float, default=0.0, help="seconds to keep watching after the input ends"
    )
    chat.set_defaults(run=_chat)

    knowledge = commands.add_parser("knowledge", help="the tenants' knowledge bases")
    knowledge_commands = knowledge.add_subparsers(dest="knowledge_command", required=True)
    reembed = knowledge_commands.add_parser(
        "reembed",
        help="re-embed every entry embedded by another model than the configured one "
        "(PILOTO_EMBEDDINGS, PILOTO_EMBEDDING_MODEL); until then retrieval skips its chunks",
    )
    reembed.add_argument("--tenant", help="one tenant id (default: every tenant)")
    reembed.set_defaults(run=_knowledge_reembed)

    pubsub = commands.add_parser("pubsub", help="Pub/Sub topology")
    pubsub_commands = pubsub.add_subparsers(dest="pubsub_command", required=True)
    setup = pubsub_commands.add_parser("setup", help="create topics and subscriptions if missing")
    setup.add_argument(
        "--push", action="append", default=[], metavar="FUNCTION=URL", help="push endpoint"
    )
    setup.set_defaults(run=_pubsub_setup)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``piloto`` command."""
    configure_logging(os.environ.get("PILOTO_LOG_LEVEL", "WARNING"))
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    raise SystemExit(main())
