"""``python -m asyncmtom``: the command line (see `asyncmtom.cli`)."""

from __future__ import annotations

from .cli import main

raise SystemExit(main())
