"""Amazon SES backend: SESv2 ``send_email`` with raw MIME, so the CSV attachment and the chart go along.

The boto3 client is passed in (built once by ``build_mailer`` or by a test under moto).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chargeback.config.fields import address_of
from chargeback.delivery import DeliveryError, OutgoingMail
from chargeback.delivery.mime import check_addresses, mime_bytes, recipients_of

SES_MAX_BYTES = 10 * 1024 * 1024  # SES rejects larger raw messages


class SesMailer:
    """Sends through an SESv2 client; returns the SES message id."""

    channel = "mail"
    needs_recipients = True

    def __init__(self, client: Any, *, configuration_set: str | None = None) -> None:
        self.client = client
        self.configuration_set = configuration_set

    def send(self, mail: OutgoingMail) -> str:
        check_addresses(mail)
        data = mime_bytes(mail)
        if len(data) > SES_MAX_BYTES:
            raise DeliveryError(f"{mail.name}: the message is {len(data)} bytes; "
                                f"SES takes at most {SES_MAX_BYTES}")
        request: dict[str, Any] = {
            "FromEmailAddress": address_of(mail.sender),
            # The recipients are taken from the raw message's To and Cc headers.
            "Content": {"Raw": {"Data": data}},
        }
        if self.configuration_set:
            request["ConfigurationSetName"] = self.configuration_set
        try:
            response = self.client.send_email(**request)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code, text = error.get("Code", "ClientError"), error.get("Message", str(exc))
            raise DeliveryError(f"{mail.name}: SES refused the message to {', '.join(recipients_of(mail))}: "
                                f"{code}: {text}", addresses=tuple(recipients_of(mail))) from None
        except BotoCoreError as exc:
            raise DeliveryError(f"{mail.name}: SES could not be reached: {exc}") from None
        return str(response["MessageId"])
