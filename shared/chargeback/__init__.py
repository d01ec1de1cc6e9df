"""Cost allocation and chargeback for Alibaba Cloud Model Studio (Qwen) bills.

``chargeback.open_warehouse(url)`` opens a published warehouse for analysis (``chargeback.analysis``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chargeback.analysis import Warehouse

__version__ = "0.1.0"


def open_warehouse(url: str, **options: Any) -> Warehouse:
    """The warehouse at ``url`` for analysts: ``chargeback.analysis.Warehouse`` (imported when first used, so
    the command line and the functions do not load it)."""
    from chargeback.analysis import open_warehouse as open_

    return open_(url, **options)


__all__ = ["__version__", "open_warehouse"]
