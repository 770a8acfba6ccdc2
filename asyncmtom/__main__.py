"""``python -m asyncmtom``: the command line (see `asyncmtom._cli`)."""

from __future__ import annotations

from ._cli import main

raise SystemExit(main())
