"""Make the shared test factory (``tests/store/factory.py``) importable as ``store.factory``.

The suite runs with ``--import-mode=importlib``, which does not put ``tests/`` on ``sys.path``.
"""

from __future__ import annotations

import sys
from pathlib import Path

_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:
    sys.path.append(_TESTS)
