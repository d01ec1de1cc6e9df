"""Alert e-mail: one alert, or one recipient's digest of a run's alerts, as HTML and text in their language.

The layout is the statements' (``chargeback/reporting/templates/_ui.html.j2``: a 600 px column, inline CSS,
autoescape), and the numbers went through the same money policy when the rules wrote them.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING

from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined, select_autoescape

from chargeback.alerts.words import word

if TYPE_CHECKING:
    from chargeback.alerts.channels import Notification

_ORDER = {"critical": 0, "warning": 1, "info": 2}


@cache
def _environment() -> Environment:
    from chargeback.reporting.render import display_filters

    env = Environment(
        loader=ChoiceLoader([PackageLoader("chargeback.alerts", "templates"),
                             PackageLoader("chargeback.reporting", "templates")]),
        autoescape=select_autoescape(enabled_extensions=("html.j2", "html"), disabled_extensions=("txt.j2",),
                                     default_for_string=True, default=True),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters.update(display_filters())
    return env


def ordered(notes: Sequence[Notification]) -> list[Notification]:
    """Most severe first, then by title."""
    return sorted(notes, key=lambda n: (_ORDER.get(n.severity, 3), n.title, n.alert_id))


def alert_mail_parts(notes: Sequence[Notification], locale: str, day: str) -> tuple[str, str, str]:
    """(subject, text, html) of one alert, or of a digest of several, in ``locale``."""
    notes = ordered(notes)
    lang = "zh" if locale == "zh" else "en"
    if len(notes) == 1:
        subject = word("single.subject", lang, title=notes[0].title)
        title, intro = word("single.title", lang), ""
    else:
        subject = word("digest.subject", lang, count=len(notes), day=day, first=notes[0].title)
        title = word("digest.title", lang, day=day)
        intro = word("digest.intro", lang, count=len(notes))
    context = {"notes": notes, "subject": subject, "title": title, "intro": intro, "locale": lang,
               "w": lambda key: word(key, lang)}
    env = _environment()
    text = env.get_template("alerts.txt.j2").render(context)
    html = env.get_template("alerts.html.j2").render(context)
    return subject, text, html
