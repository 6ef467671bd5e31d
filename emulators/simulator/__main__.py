"""``python -m emulators.simulator``: serve the provider simulator until Ctrl-C or SIGTERM.

    python -m emulators.simulator --port 8700 --webhook-base-url http://127.0.0.1:8001 \
        --seed emulators/seed/demo.yaml

Channel secrets come from the environment; names it lacks are read from ``--env-file``
(default ``.env``, else ``.env.example``), without overriding what is already set.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from emulators.simulator.channels import channels_from_seed
from emulators.simulator.server import DEFAULT_STATUS_DELAYS, ProviderSimulator
from emulators.simulator.stripe_objects import DEFAULT_SECRET_KEY
from shared.logs import configure_logging

ROOT = Path(__file__).resolve().parents[2]


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the options, start the simulator and wait for a stop signal."""
    options = _parser().parse_args(argv)
    configure_logging(options.log_level)
    load_env_defaults(options.env_file)
    channels = channels_from_seed(options.seed)
    simulator = ProviderSimulator(
        channels,
        webhook_base_url=options.webhook_base_url or None,
        host=options.host,
        port=options.port,
        status_delays=options.status_delays,
        stripe_secret_key=options.stripe_secret_key,
        stripe_webhook_url=options.stripe_webhook_url or None,
        stripe_webhook_secret=options.stripe_webhook_secret
        or os.environ.get("PILOTO_DEV_STRIPE_WEBHOOK_SECRET")
        or None,
        plans_file=options.plans_file,
        smtp_port=options.smtp_port if options.smtp_port >= 0 else None,
    )
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    with simulator:
        stopping.wait()
    return 0


def load_env_defaults(path: Path | None) -> None:
    """Set variables from a dotenv file that the environment does not already have."""
    if path is None:
        path = ROOT / ".env" if (ROOT / ".env").exists() else ROOT / ".env.example"
    if not path.exists():
        return
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        os.environ.setdefault(key.strip(), value.strip().strip('"').strip("'"))


def _delays(text: str) -> tuple[float, ...]:
    try:
        delays = tuple(float(part) for part in text.split(","))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a list of seconds: {text!r}") from error
    if len(delays) != 3 or any(delay < 0 for delay in delays):
        raise argparse.ArgumentTypeError("give three non-negative seconds: sent,delivered,read")
    return delays


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m emulators.simulator",
        description="Local stand-in for the Meta, Twilio, Evolution API and Z-API WhatsApp APIs.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8700)
    parser.add_argument(
        "--webhook-base-url",
        default="http://127.0.0.1:8001",
        help="Piloto's webhook function; webhooks go to {this}/webhooks/{provider}/{channel_id} "
        "(empty: post none)",
    )
    parser.add_argument(
        "--seed", type=Path, default=ROOT / "emulators" / "seed" / "demo.yaml", help="seed file"
    )
    parser.add_argument("--env-file", type=Path, default=None, help="dotenv file for secrets")
    parser.add_argument(
        "--status-delays",
        type=_delays,
        default=DEFAULT_STATUS_DELAYS,
        help="seconds before sent, then delivered, then read (default %(default)s)",
    )
    parser.add_argument(
        "--stripe-secret-key",
        default=DEFAULT_SECRET_KEY,
        help="the secret API key the simulated Stripe accepts (default %(default)s)",
    )
    parser.add_argument(
        "--stripe-webhook-url",
        default="",
        help="where the simulated Stripe posts its events (Piloto's billing function; empty: "
        "none until POST /stripe/_control/webhook)",
    )
    parser.add_argument(
        "--stripe-webhook-secret",
        default="",
        help="the endpoint's signing secret (whsec_...; default $PILOTO_DEV_STRIPE_WEBHOOK_SECRET)",
    )
    parser.add_argument(
        "--plans-file", default=None, help="plan catalogue whose prices Stripe has (plans.yaml)"
    )
    parser.add_argument(
        "--smtp-port",
        type=int,
        default=2525,
        help="the SMTP sink's port (0: a free one, -1: none; default %(default)s)",
    )
    parser.add_argument("--log-level", default="INFO")
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
