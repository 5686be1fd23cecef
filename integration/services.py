"""What handlers and the CLI use, built by `integration.app.build_services`.

Its own module so handlers can name the type without importing the app that registers them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Mapping

from integration.config import Config
from integration.intake import Intake
from integration.store import Store

if TYPE_CHECKING:
    from integration.background import BackgroundWorker
    from integration.worker import Worker


@dataclass
class Services:
    """Everything handlers and the CLI use; tests replace any part through overrides."""

    config: Config
    store: Store
    worker: Worker
    intake: Intake
    clock: Callable[[], float]
    environ: Mapping[str, str]
    background: BackgroundWorker | None = None

    def secret(self, env_name: str | None) -> str | None:
        return self.environ.get(env_name) or None if env_name else None
