"""The worker process `gamefilm serve` starts (see `integration.worker_process`): a
`BackgroundWorker` woken by each byte on its pipe, stopping at the pipe's end of file.

    python -m integration.worker_child CONFIG_FILE PIPE_FD LOG_LEVEL
"""
from __future__ import annotations

import logging
import os
import signal
import sys
import time
from typing import Any, Sequence

from integration.worker_process import STOP_SECONDS

log = logging.getLogger("integration.worker_child")  # also when run as __main__


class _Stop(Exception):
    pass


def _on_sigterm(signum: int, frame: Any) -> None:
    raise _Stop()


def main(argv: Sequence[str] | None = None) -> int:
    config_file, pipe, level = argv or sys.argv[1:]
    # The terminal's Ctrl-C reaches the whole process group: the server decides when we stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_sigterm)
    from integration import config as config_mod
    from integration import logs
    from integration.app import build_services

    logs.configure(level)
    services = build_services({"config": config_mod.load(config_file), "worker_mode": "thread"})
    background = services.background
    assert background is not None
    background.start()
    started = time.monotonic()
    try:
        while os.read(int(pipe), 4096):  # wake-ups; b"" (end of file): the server has gone
            background.notify()
    except _Stop:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        background.stop(STOP_SECONDS)
        services.store.close()
        log.info("worker process stopped after %.0f s", time.monotonic() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
