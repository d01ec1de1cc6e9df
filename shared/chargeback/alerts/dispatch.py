"""Sending a run's alerts to their channels: webhooks one alert at a time, e-mail as one digest per recipient.

With ``alerts.digest`` (the default), every recipient of e-mail alerts gets one mail listing all of the run's
alerts for them, in their language; each alert's e-mail route then counts as sent when every one of its
recipients' digests went out. Without it, each alert is one mail per channel. A route whose channel this run
does not have is left out (the alert is reported undelivered for it, never recorded as failed or sent).

Every delivery goes through ``deliver`` (``chargeback.alerts.job``: a done-once record per delivery), under a
key stable per content: an alert's sequence on a webhook channel, or one recipient's digest of given alerts.
A delivery another run is making gives no result: the alert's route stays pending for the next run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

from chargeback.alerts.channels import (
    Channel,
    DeliveryResult,
    EmailChannel,
    Notification,
    UnavailableChannel,
    digest_id,
)
from chargeback.alerts.model import Route
from chargeback.alerts.state import delivery_key
from chargeback.once import record_key

Key = tuple[str, str]  # (alert id, channel name)
Deliver = Callable[[str | None, str, Callable[[], DeliveryResult]], DeliveryResult | None]
"""deliver(month, key, send): send() once per key among the month's records (None: the run's day's month);
None when another run is making that delivery."""


@dataclass(frozen=True)
class Sending:
    """One alert on one route; ``note(locale)`` says it in a language."""

    alert_id: str
    route: Route
    locale: str
    note: Callable[[str], Notification]
    month: str  # the alert's state month: where its deliveries are recorded


def usable(channels: Mapping[str, Channel], name: str) -> bool:
    """Whether this run can send to the channel ``name``."""
    channel = channels.get(name)
    return channel is not None and not isinstance(channel, UnavailableChannel)


def dispatch(sendings: Sequence[Sending], channels: Mapping[str, Channel], *, digest: bool, day: str,
             deliver: Deliver) -> dict[Key, DeliveryResult]:
    """Deliver every sending; one result per (alert id, channel) whose delivery this run made or found made."""
    results: dict[Key, DeliveryResult] = {}
    by_recipient: dict[str, list[Sending]] = defaultdict(list)
    mailed: list[tuple[Sending, EmailChannel, tuple[str, ...]]] = []
    for sending in sendings:
        channel = channels[sending.route.channel]
        key = (sending.alert_id, sending.route.channel)
        note = sending.note(sending.locale)
        if digest and isinstance(channel, EmailChannel) and channel.recipients_for(note):
            recipients = channel.recipients_for(note)
            mailed.append((sending, channel, recipients))
            for recipient in recipients:
                by_recipient[recipient].append(sending)
            continue
        result = deliver(sending.month, delivery_key(note.alert_id, note.sequence, channel.name),
                         partial(channel.send, note))
        if result is not None:
            results[key] = result
    digests: dict[str, DeliveryResult | None] = {}
    for recipient, items in sorted(by_recipient.items()):
        locale = items[0].locale
        seen: dict[str, Notification] = {}
        for item in items:
            seen.setdefault(item.alert_id, item.note(locale))
        channel = next(c for s, c, _ in mailed if s in items)
        notes = list(seen.values())
        digests[recipient] = deliver(None, record_key("digest", channel.name, digest_id(notes, recipient)),
                                     partial(channel.send_digest, notes, recipient, locale, day))
    for sending, channel, recipients in mailed:
        found = [digests[r] for r in recipients]
        parts = [p for p in found if p is not None]
        if len(parts) < len(found):
            continue  # a digest another run is sending: this route is decided by the next run
        failed = [p for p in parts if p.status == "failed"]
        results[(sending.alert_id, sending.route.channel)] = DeliveryResult(
            channel.name, channel.kind, "failed" if failed else "sent", max(p.attempts for p in parts),
            tuple(e for p in parts for e in p.errors), recipients,
            ", ".join(p.reference for p in parts if p.reference))
    return results
