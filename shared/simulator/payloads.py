"""Provider webhook requests for simulated messages, parsed by the real provider adapters."""

from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import urlencode

from shared.channels.base import WebhookRequest
from shared.models.events import Provider

BUSINESS_PHONE = "5511990000001"
PHONE_NUMBER_ID = "100000000000001"


def webhook_request(
    provider: Provider,
    *,
    lead_phone: str,
    name: str,
    message_id: str,
    text: str,
    at: datetime,
    from_business: bool = False,
) -> WebhookRequest | None:
    """Return the request the provider would post for this message (None: the provider sends none).

    The Cloud API and Twilio do not report messages the business sends from its phone; the
    unofficial gateways do (``fromMe``), so a seller message on Meta or Twilio has no request.
    """
    digits = lead_phone.lstrip("+")
    seconds = int(at.timestamp())
    if provider == "meta":
        if from_business:
            return None
        return _json(
            {
                "object": "whatsapp_business_account",
                "entry": [
                    {
                        "id": "1",
                        "changes": [
                            {
                                "field": "messages",
                                "value": {
                                    "messaging_product": "whatsapp",
                                    "metadata": {
                                        "display_phone_number": BUSINESS_PHONE,
                                        "phone_number_id": PHONE_NUMBER_ID,
                                    },
                                    "contacts": [{"profile": {"name": name}, "wa_id": digits}],
                                    "messages": [
                                        {
                                            "from": digits,
                                            "id": message_id,
                                            "timestamp": str(seconds),
                                            "type": "text",
                                            "text": {"body": text},
                                        }
                                    ],
                                },
                            }
                        ],
                    }
                ],
            }
        )
    if provider == "twilio":
        if from_business:
            return None
        form = {
            "MessageSid": message_id,
            "SmsMessageSid": message_id,
            "AccountSid": "ACsimulator",
            "From": f"whatsapp:+{digits}",
            "To": f"whatsapp:+{BUSINESS_PHONE}",
            "Body": text,
            "NumMedia": "0",
            "ProfileName": name,
            "WaId": digits,
            "MessageType": "text",
        }
        return WebhookRequest(
            method="POST",
            url="https://simulator.local/webhooks/twilio/sim",
            body=urlencode(form).encode(),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    if provider == "evolution":
        return _json(
            {
                "event": "messages.upsert",
                "instance": "simulator",
                "data": {
                    "key": {
                        "remoteJid": f"{digits}@s.whatsapp.net",
                        "fromMe": from_business,
                        "id": message_id,
                    },
                    "pushName": name,
                    "message": {"conversation": text},
                    "messageType": "conversation",
                    "messageTimestamp": seconds,
                },
                "sender": f"{BUSINESS_PHONE}@s.whatsapp.net",
            }
        )
    return _json(
        {
            "type": "ReceivedCallback",
            "instanceId": "simulator",
            "messageId": message_id,
            "phone": digits,
            "fromMe": from_business,
            "fromApi": False,
            "momment": seconds * 1000,
            "status": "RECEIVED",
            "chatName": name,
            "senderName": name,
            "isGroup": False,
            "isNewsletter": False,
            "text": {"message": text},
        }
    )


def _json(document: object) -> WebhookRequest:
    return WebhookRequest(
        method="POST",
        url="https://simulator.local/webhooks/sim",
        body=json.dumps(document, ensure_ascii=False).encode(),
        headers={"content-type": "application/json"},
    )
