"""Simulated e-mail: an SMTP sink (aiosmtpd) and SendGrid's v3 Mail Send API.

Both record what they accept, listed at ``GET /mail/_control/messages`` (``to``, ``subject``,
``text``, ``html``, ``from``, ``transport``) and cleared with ``DELETE``. Recipients let a test
steer the outcome: an address whose local part starts with ``reject`` is refused for good
(SMTP 550, SendGrid 400), one starting with ``tempfail`` for now (SMTP 451, SendGrid 503).

SMTP: plain (no TLS), AUTH PLAIN/LOGIN accepted without TLS with the configured user and
password when one is set (any credentials otherwise). SendGrid: ``POST /sendgrid/v3/mail/send``
with ``Authorization: Bearer <api key>``; 202 and ``X-Message-Id``; errors in SendGrid's shape
``{"errors": [{"message", "field", "help"}]}``.
"""

from __future__ import annotations

import email
import email.policy
import logging
import secrets
import socket
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from emulators.simulator.routing import BadRequest, Request, Response, Router, json_response

logger = logging.getLogger("piloto.simulator.mail")

DEFAULT_SENDGRID_KEY = "SG.simulator-key"
SENDGRID_ROUTE = r"/sendgrid/v3/mail/send"
MESSAGES_ROUTE = r"/mail/_control/messages"


@dataclass(frozen=True)
class SentMail:
    """One accepted message to one recipient."""

    message_id: str
    transport: str
    sender: str
    to: str
    subject: str
    text: str
    html: str
    received_at: str


class MailSimulator:
    """The SMTP sink and the SendGrid API, recording messages in one list."""

    def __init__(
        self,
        *,
        smtp_port: int | None = None,
        host: str = "127.0.0.1",
        sendgrid_key: str = DEFAULT_SENDGRID_KEY,
        smtp_username: str | None = None,
        smtp_password: str | None = None,
    ) -> None:
        self.requested_smtp_port = smtp_port
        self.host = host
        self.sendgrid_key = sendgrid_key
        self.smtp_username = smtp_username
        self.smtp_password = smtp_password
        self._messages: list[SentMail] = []
        self._lock = threading.Lock()
        self._controller: Any = None
        self._smtp_port: int | None = None

    # Life cycle

    def start(self) -> None:
        """Start the SMTP sink when a port was given (0: a free one)."""
        if self.requested_smtp_port is None or self._controller is not None:
            return
        from aiosmtpd.controller import Controller

        port = self.requested_smtp_port or _free_port(self.host)
        controller = Controller(
            _SinkHandler(self),
            hostname=self.host,
            port=port,
            auth_require_tls=False,
            authenticator=self._authenticate,
        )
        controller.start()
        self._controller = controller
        self._smtp_port = port
        logger.info("SMTP sink listening", extra={"host": self.host, "port": port})

    def stop(self) -> None:
        """Stop the SMTP sink."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def smtp_port(self) -> int:
        """Return the SMTP sink's port (it must be started)."""
        if self._smtp_port is None:
            raise RuntimeError("the SMTP sink is not running (give the simulator an smtp_port)")
        return self._smtp_port

    # Python API

    def messages(self, to: str | None = None) -> list[SentMail]:
        """Return the accepted messages, oldest first (only those to ``to`` when given)."""
        with self._lock:
            found = list(self._messages)
        if to is not None:
            found = [message for message in found if message.to.lower() == to.lower()]
        return found

    def clear(self) -> None:
        """Forget the accepted messages."""
        with self._lock:
            self._messages.clear()

    def record(self, message: SentMail) -> None:
        """Keep an accepted message."""
        with self._lock:
            self._messages.append(message)

    # HTTP

    def add_routes(self, router: Router) -> None:
        """Register SendGrid's send route and the message list."""
        router.add("POST", SENDGRID_ROUTE, self._sendgrid_send)
        router.add("GET", MESSAGES_ROUTE, self._list)
        router.add("DELETE", MESSAGES_ROUTE, self._clear)

    def _list(self, request: Request, params: Mapping[str, str]) -> Response:
        found = self.messages(request.query.get("to"))
        return json_response(200, {"messages": [asdict(message) for message in found]})

    def _clear(self, request: Request, params: Mapping[str, str]) -> Response:
        self.clear()
        return json_response(200, {"cleared": True})

    def _sendgrid_send(self, request: Request, params: Mapping[str, str]) -> Response:
        if request.header("authorization") != f"Bearer {self.sendgrid_key}":
            return _sendgrid_error(
                401, "The provided authorization grant is invalid, expired, or revoked", None
            )
        try:
            body = request.json_object()
        except BadRequest as error:
            return _sendgrid_error(400, str(error), None)
        problem = _sendgrid_problem(body)
        if problem is not None:
            return _sendgrid_error(400, *problem)
        recipients = [
            str(to["email"]) for item in body["personalizations"] for to in item.get("to", [])
        ]
        for address in recipients:
            if _local_part(address).startswith("reject"):
                return _sendgrid_error(
                    400, "Does not contain a valid address.", "personalizations.0.to.0.email"
                )
            if _local_part(address).startswith("tempfail"):
                return _sendgrid_error(503, "Service temporarily unavailable", None)
        contents = {item.get("type"): str(item.get("value") or "") for item in body["content"]}
        sender = body["from"]
        from_text = (
            f"{sender['name']} <{sender['email']}>" if sender.get("name") else sender["email"]
        )
        message_id = secrets.token_urlsafe(16)
        for address in recipients:
            self.record(
                SentMail(
                    message_id=message_id,
                    transport="sendgrid",
                    sender=from_text,
                    to=address,
                    subject=str(body.get("subject") or ""),
                    text=contents.get("text/plain", ""),
                    html=contents.get("text/html", ""),
                    received_at=_now(),
                )
            )
        return Response(202, b"", "text/plain", {"X-Message-Id": message_id})

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        if self.smtp_username is None:
            return AuthResult(success=True)
        login = auth_data.login.decode(errors="replace")
        password = auth_data.password.decode(errors="replace")
        return AuthResult(success=login == self.smtp_username and password == self.smtp_password)


class _SinkHandler:
    """aiosmtpd handler: refuse the steering recipients, record the rest."""

    def __init__(self, mail: MailSimulator) -> None:
        self._mail = mail

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        local = _local_part(address)
        if local.startswith("reject"):
            return "550 5.1.1 Recipient address rejected: user unknown"
        if local.startswith("tempfail"):
            return "451 4.3.0 Mailbox temporarily unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        if not isinstance(parsed, EmailMessage):
            return "554 5.6.0 Message not readable"
        text_part = parsed.get_body(preferencelist=("plain",))
        html_part = parsed.get_body(preferencelist=("html",))
        message_id = secrets.token_urlsafe(16)
        for address in envelope.rcpt_tos:
            self._mail.record(
                SentMail(
                    message_id=message_id,
                    transport="smtp",
                    sender=str(parsed.get("From") or envelope.mail_from),
                    to=address,
                    subject=str(parsed.get("Subject") or ""),
                    text=text_part.get_content() if text_part is not None else "",
                    html=html_part.get_content() if html_part is not None else "",
                    received_at=_now(),
                )
            )
        return "250 Message accepted for delivery"


def _sendgrid_problem(body: dict[str, Any]) -> tuple[str, str] | None:
    """Return SendGrid's message and field for a body it would refuse, or None."""
    personalizations = body.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        return "The personalizations field is required.", "personalizations"
    for index, item in enumerate(personalizations):
        recipients = item.get("to") if isinstance(item, dict) else None
        if not isinstance(recipients, list) or not recipients:
            return "The to array is required.", f"personalizations.{index}.to"
        for position, to in enumerate(recipients):
            if not isinstance(to, dict) or "@" not in str(to.get("email") or ""):
                return (
                    "Does not contain a valid address.",
                    f"personalizations.{index}.to.{position}.email",
                )
    sender = body.get("from")
    if not isinstance(sender, dict) or "@" not in str(sender.get("email") or ""):
        return "The from object must be provided for every email send.", "from"
    if not str(body.get("subject") or "").strip():
        return "The subject is required.", "subject"
    content = body.get("content")
    if not isinstance(content, list) or not content:
        return "Unless a valid template_id is provided, the content parameter is required.", (
            "content"
        )
    return None


def _sendgrid_error(status: int, message: str, field: str | None) -> Response:
    return json_response(status, {"errors": [{"message": message, "field": field, "help": None}]})


def _local_part(address: str) -> str:
    return address.strip("<>").split("@", 1)[0].lower()


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _now() -> str:
    return datetime.now(UTC).isoformat()
