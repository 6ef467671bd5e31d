"""The local provider simulator: Meta, Twilio, Evolution API and Z-API on one HTTP server.

``ProviderSimulator(channels, webhook_base_url, host, port)`` serves the four send APIs where
Piloto's adapters post, an outbox, signed status webhooks, lead messages and fault switches;
``channels_from_seed`` builds its channels from a seed file, ``simulated_channel`` one for a
test. ``python -m emulators.simulator`` runs it (see ``emulators/README.md``).
"""

from __future__ import annotations

from emulators.simulator.channels import SimulatedChannel, channels_from_seed, simulated_channel
from emulators.simulator.faults import FAULT_KINDS, Fault, FaultRejected
from emulators.simulator.outbox import OutboxMessage, SentContent
from emulators.simulator.server import DEFAULT_STATUS_DELAYS, LeadMessagePosted, ProviderSimulator
from emulators.simulator.webhooks import WebhookPost

__all__ = [
    "DEFAULT_STATUS_DELAYS",
    "FAULT_KINDS",
    "Fault",
    "FaultRejected",
    "LeadMessagePosted",
    "OutboxMessage",
    "ProviderSimulator",
    "SentContent",
    "SimulatedChannel",
    "WebhookPost",
    "channels_from_seed",
    "simulated_channel",
]
