"""Keeping pandas out of the commands that never use it (``run``, ``ingest``, ``allocate``).

pyarrow imports pandas, if installed, the first time it builds an array or a table, only to ask whether its
input is a pandas object: measured here, that import costs about 0.35 s and 60 MB, a third of the real
export's whole run. pandas is an optional dependency of pyarrow, which works the same without it, so while
:func:`without_pandas` is in force the process behaves as if pandas were not installed: ``import pandas``
raises ImportError, and pyarrow treats every input as the Arrow or Python value it is. A process that has
loaded pandas already (a notebook, the test runner, ``demo``) is left as it is.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any


class _NoPandas(MetaPathFinder):
    """Finds pandas nowhere: an import of it, or of one of its modules, fails as if it were not installed."""

    def find_spec(self, fullname: str, path: Any = None, target: ModuleType | None = None) -> ModuleSpec | None:
        if fullname == "pandas" or fullname.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {fullname!r} (not loaded by this command)", name=fullname)
        return None


@contextmanager
def without_pandas() -> Iterator[None]:
    """Run the body as if pandas were not installed (see the module doc); a no-op once pandas is loaded."""
    if "pandas" in sys.modules:
        yield
        return
    finder = _NoPandas()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


__all__ = ["without_pandas"]
