"""Sending a run's alerts to their channels: webhooks one alert at a time, e-mail as one digest per recipient.

With ``alerts.digest`` (the default), every recipient of e-mail alerts gets one mail listing all of the run's
alerts for them, in their language; each alert's e-mail route then counts as sent when every one of its
recipients' digests went out. Without it, each alert is one mail per channel. A route whose channel this run
does not have is left out (the alert is reported undelivered for it, never recorded as failed or sent).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from chargeback.alerts.channels import Channel, DeliveryResult, EmailChannel, Notification, UnavailableChannel
from chargeback.alerts.model import Route

Key = tuple[str, str]  # (alert id, channel name)


@dataclass(frozen=True)
class Sending:
    """One alert on one route; ``note(locale)`` says it in a language."""

    alert_id: str
    route: Route
    locale: str
    note: Callable[[str], Notification]


def usable(channels: Mapping[str, Channel], name: str) -> bool:
    """Whether this run can send to the channel ``name``."""
    channel = channels.get(name)
    return channel is not None and not isinstance(channel, UnavailableChannel)


def dispatch(sendings: Sequence[Sending], channels: Mapping[str, Channel], *, digest: bool,
             day: str) -> dict[Key, DeliveryResult]:
    """Deliver every sending; one result per (alert id, channel)."""
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
        results[key] = channel.send(note)
    digests: dict[str, DeliveryResult] = {}
    for recipient, items in sorted(by_recipient.items()):
        locale = items[0].locale
        seen: dict[str, Notification] = {}
        for item in items:
            seen.setdefault(item.alert_id, item.note(locale))
        channel = next(c for s, c, _ in mailed if s in items)
        digests[recipient] = channel.send_digest(list(seen.values()), recipient, locale, day)
    for sending, channel, recipients in mailed:
        parts = [digests[r] for r in recipients]
        failed = [p for p in parts if p.status == "failed"]
        results[(sending.alert_id, sending.route.channel)] = DeliveryResult(
            channel.name, channel.kind, "failed" if failed else "sent", max(p.attempts for p in parts),
            tuple(e for p in parts for e in p.errors), recipients,
            ", ".join(p.reference for p in parts if p.reference))
    return results
