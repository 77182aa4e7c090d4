"""An embedded PostgreSQL (from ``pgserver``) for machines with none configured."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger("pushgate")


class EmbeddedPostgres:
    """Starts PostgreSQL in ``data_dir/postgres`` and stops it on :meth:`stop`."""

    def __init__(self, data_dir: Path) -> None:
        self.path = (data_dir / "postgres").resolve()
        self._server: Any = None

    def start(self) -> str:
        import pgserver

        self.path.mkdir(parents=True, exist_ok=True)
        self._server = pgserver.get_server(  # type: ignore[attr-defined]
            self.path, cleanup_mode="stop"
        )
        logger.info("Embedded PostgreSQL running in %s", self.path)
        url: str = self._server.get_uri()
        return url

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None
            logger.info("Embedded PostgreSQL stopped")
