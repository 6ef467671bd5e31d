"""E-mail notifications: compose them in pt-BR and send them over SMTP or SendGrid's v3 API.

``email_attempt`` is the delivery runner's handler for kind ``email`` (target
``mail-{notification_id}``): it re-reads the notification and the member (their address and
whether they still want it by e-mail), sends through the configured transport
(``mail_transport``: smtp, sendgrid, or off) and records ``email_status`` on the notification.
A temporary failure (SMTP 4xx, a connection error, SendGrid 429/5xx) is retried by the runner;
a refused recipient or message (SMTP 5xx to RCPT/DATA, SendGrid 400) is permanent.
"""

from __future__ import annotations

import html
import logging
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from shared.integrations.models import AttemptResult
from shared.notifications.models import Notification
from shared.notifications.store import notification_ref, preferences_of
from shared.settings import Settings
from shared.store.conversations import tenant_ref

if TYPE_CHECKING:
    from shared.integrations.delivery import AttemptContext

logger = logging.getLogger("piloto.notifications.email")

MAIL_TIMEOUT_SECONDS = 15.0
MAIL_TARGET_PREFIX = "mail-"


@dataclass(frozen=True)
class MailMessage:
    """One e-mail to one person: plain text and HTML alternatives."""

    sender: str
    to: str
    subject: str
    text: str
    html: str


class MailError(Exception):
    """A send failed; ``permanent`` ones are not retried."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.status = status
        self.retry_after = retry_after


class Mailer(Protocol):
    """Something that sends one message or raises ``MailError``."""

    def send(self, message: MailMessage) -> None:
        """Send ``message``."""


@dataclass(frozen=True)
class SmtpMailer:
    """Send through an SMTP server (STARTTLS, implicit TLS or plain), logging in when told."""

    host: str
    port: int
    security: str = "starttls"
    username: str | None = None
    password: str | None = None
    timeout: float = MAIL_TIMEOUT_SECONDS

    def send(self, message: MailMessage) -> None:
        """Send ``message``: 5xx to the recipient or the data is permanent, the rest retried."""
        try:
            if self.security == "ssl":
                server: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
                )
            else:
                server = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with server:
                if self.security == "starttls":
                    server.starttls(context=ssl.create_default_context())
                if self.username:
                    server.login(self.username, self.password or "")
                server.send_message(to_email_message(message))
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _text in error.recipients.values()]
            detail = "; ".join(
                f"{code} {text.decode(errors='replace')}"
                for code, text in error.recipients.values()
            )
            permanent = all(code >= 500 for code in codes)
            raise MailError(
                f"recipient refused: {detail}", permanent=permanent, status=max(codes)
            ) from error
        except smtplib.SMTPDataError as error:
            raise MailError(
                f"message refused: {error.smtp_code} {_text(error.smtp_error)}",
                permanent=error.smtp_code >= 500,
                status=error.smtp_code,
            ) from error
        except smtplib.SMTPResponseException as error:
            raise MailError(
                f"SMTP {error.smtp_code} {_text(error.smtp_error)}", status=error.smtp_code
            ) from error
        except (smtplib.SMTPException, OSError) as error:
            raise MailError(f"SMTP server unreachable: {error}") from error


@dataclass(frozen=True)
class SendGridMailer:
    """Send through SendGrid's v3 Mail Send API (202 accepted)."""

    api_base: str
    api_key: str
    http: httpx.Client

    def send(self, message: MailMessage) -> None:
        """POST ``/v3/mail/send``; 400/413 are permanent, 401/403/429/5xx retried."""
        name, address = parseaddr(message.sender)
        sender: dict[str, str] = {"email": address or message.sender}
        if name:
            sender["name"] = name
        body = {
            "personalizations": [{"to": [{"email": message.to}]}],
            "from": sender,
            "subject": message.subject,
            "content": [
                {"type": "text/plain", "value": message.text},
                {"type": "text/html", "value": message.html},
            ],
        }
        try:
            response = self.http.post(
                f"{self.api_base.rstrip('/')}/v3/mail/send",
                json=body,
                headers={"Authorization": f"Bearer {self.api_key}"},
                timeout=MAIL_TIMEOUT_SECONDS,
            )
        except httpx.HTTPError as error:
            raise MailError(f"SendGrid unreachable: {error}") from error
        if response.status_code in (200, 202):
            return
        detail = _sendgrid_error(response)
        retry_after = None
        if response.status_code == 429:
            retry_after = _seconds(response.headers.get("Retry-After"))
        raise MailError(
            f"SendGrid {response.status_code}: {detail}",
            permanent=response.status_code in (400, 413),
            status=response.status_code,
            retry_after=retry_after,
        )


def mailer_for(
    settings: Settings, resolve: Callable[[str], str], http: httpx.Client | None = None
) -> Mailer | None:
    """Return the configured transport, or None when ``mail_transport`` is off.

    Raises ``MailError`` when the transport is set but incomplete (retried: a fixable config).
    """
    if settings.mail_transport == "smtp":
        if not settings.smtp_host:
            raise MailError("PILOTO_SMTP_HOST is not set")
        password = resolve(settings.smtp_password) if settings.smtp_password else None
        return SmtpMailer(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=password,
        )
    if settings.mail_transport == "sendgrid":
        if not settings.mail_api_key:
            raise MailError("PILOTO_MAIL_API_KEY is not set")
        return SendGridMailer(
            api_base=settings.mail_api_base,
            api_key=resolve(settings.mail_api_key),
            http=http or httpx.Client(timeout=MAIL_TIMEOUT_SECONDS),
        )
    return None


def compose(notification: Notification, to: str, settings: Settings) -> MailMessage:
    """Return a notification as an e-mail (pt-BR, with the console link when one is known)."""
    url = console_link(notification.link, settings.console_url)
    lines = [notification.title, "", notification.body]
    if url:
        lines += ["", f"Abrir no Piloto: {url}"]
    lines += ["", "—", FOOTER]
    paragraphs = "".join(
        f"<p>{html.escape(line)}</p>" for line in notification.body.splitlines() if line.strip()
    )
    button = f'<p><a href="{html.escape(url, quote=True)}">Abrir no Piloto</a></p>' if url else ""
    page = (
        '<!doctype html><html lang="pt-BR"><body style="font-family:sans-serif">'
        f"<h2>{html.escape(notification.title)}</h2>{paragraphs}{button}"
        f'<hr><p style="color:#666;font-size:12px">{html.escape(FOOTER)}</p></body></html>'
    )
    return MailMessage(
        sender=settings.mail_from,
        to=to,
        subject=notification.title,
        text="\n".join(lines) + "\n",
        html=page,
    )


FOOTER = (
    "Você recebe este e-mail porque faz parte da equipe no Piloto. "
    "Escolha o que receber em Notificações, no console."
)


def console_link(link: str | None, console_url: str | None) -> str | None:
    """Return the console URL of a notification's path (None without either)."""
    if not link or not console_url:
        return None
    return f"{console_url.rstrip('/')}{link}"


def to_email_message(message: MailMessage) -> EmailMessage:
    """Return a MIME message with text and HTML alternatives."""
    mime = EmailMessage()
    mime["From"] = message.sender
    mime["To"] = message.to
    mime["Subject"] = message.subject
    mime.set_content(message.text)
    mime.add_alternative(message.html, subtype="html")
    return mime


def email_attempt(ctx: AttemptContext) -> AttemptResult:
    """Send the e-mail of delivery ``mail-{notification_id}`` (the delivery runner's handler)."""
    return send_notification_email(
        ctx.firestore,
        ctx.settings,
        ctx.tenant_id,
        ctx.delivery.target_id.removeprefix(MAIL_TARGET_PREFIX),
        ctx.now,
        resolve=ctx.resolve_secret,
        http=ctx.http,
    )


def send_notification_email(
    client: Any,
    settings: Settings,
    tenant_id: str,
    notification_id: str,
    now: datetime,
    *,
    resolve: Callable[[str], str],
    http: httpx.Client | None = None,
    mailer: Mailer | None = None,
) -> AttemptResult:
    """Send one notification's e-mail once and record the outcome on the notification."""
    document = notification_ref(client, tenant_id, notification_id)
    snapshot = document.get()
    if not snapshot.exists:
        return AttemptResult(ok=False, permanent=True, error="the notification does not exist")
    notification = Notification.model_validate(snapshot.to_dict())
    if notification.email_status in ("sent", "no_transport", "not_wanted"):
        return AttemptResult(ok=True, error=f"e-mail {notification.email_status}")
    member = (
        tenant_ref(client, tenant_id)
        .collection("members")
        .document(notification.recipient_uid)
        .get()
    )
    record = member.to_dict() if member.exists else None
    if record is None or not record.get("email"):
        reason = "the member left the team" if record is None else "the member has no e-mail"
        document.update({"email_status": "failed", "email_error": reason})
        return AttemptResult(ok=False, permanent=True, error=reason)
    if not preferences_of(record).wants(notification.type, "email"):
        document.update({"email_status": "not_wanted"})
        return AttemptResult(ok=True, error="the member turned this e-mail off")
    try:
        transport = mailer or mailer_for(settings, resolve, http)
        if transport is None:
            document.update({"email_status": "no_transport"})
            return AttemptResult(ok=True, error="no mail transport configured")
        transport.send(compose(notification, str(record["email"]), settings))
    except MailError as error:
        message = str(error)[:500]
        logger.warning(
            "notification e-mail not sent",
            extra={"tenant_id": tenant_id, "notification_id": notification_id, "error": message},
        )
        changes: dict[str, Any] = {"email_error": message}
        if error.permanent:
            changes["email_status"] = "failed"
        document.update(changes)
        return AttemptResult(
            ok=False,
            http_status=error.status,
            error=message,
            permanent=error.permanent,
            retry_after_seconds=error.retry_after,
        )
    except Exception as error:  # a secret that cannot be resolved, among others: retried
        logger.exception("notification e-mail failed", extra={"tenant_id": tenant_id})
        return AttemptResult(ok=False, error=f"{type(error).__name__}: {error}"[:500])
    document.update({"email_status": "sent", "email_sent_at": now, "email_error": None})
    return AttemptResult(ok=True, http_status=None)


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def _sendgrid_error(response: httpx.Response) -> str:
    """Return SendGrid's error messages (``{"errors": [{"message", "field"}]}``) or the text."""
    try:
        errors = response.json().get("errors") or []
        messages = [str(item.get("message")) for item in errors if isinstance(item, dict)]
    except (ValueError, AttributeError):
        messages = []
    return "; ".join(messages) or response.text[:300]


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
