"""The progress bar of `batch_run` and background retrieval: a tqdm.auto bar (notebook widget
or terminal bar) of items done and failed, silent when disabled, when `TQDM_DISABLE` is set,
or when tqdm is not installed."""

from __future__ import annotations

import importlib
import logging
import os
from typing import Any, Protocol

log = logging.getLogger("parquet_logger")

__all__ = ["Progress", "ProgressSink"]


class ProgressSink(Protocol):
    """Where finished items are counted: a `Progress` bar, or a batch worker's counters."""

    def advance(self, failed: bool) -> None: ...


class Progress:
    """A bar of `total` items labelled `desc`; `failed` counts the failures."""

    def __init__(self, total: int, enabled: bool, desc: str) -> None:
        self.failed = 0
        self._bar: Any = None
        if not enabled or _env_disabled():
            return
        try:
            tqdm = importlib.import_module("tqdm.auto").tqdm
        except ImportError:
            log.info("install tqdm for a progress bar")
            return
        self._bar = tqdm(total=total, desc=desc, unit="row", dynamic_ncols=True)

    def advance(self, failed: bool) -> None:
        """One more item done (and failed, if `failed`)."""
        if failed:
            self.failed += 1
        if self._bar is None:
            return
        if failed:
            self._bar.set_postfix(failed=self.failed, refresh=False)
        self._bar.update(1)

    def advance_to(self, done: int, failed: int) -> None:
        """Move the bar to totals counted elsewhere (the batch worker processes)."""
        self.failed = failed
        if self._bar is None or done == self._bar.n:
            return
        if failed:
            self._bar.set_postfix(failed=failed, refresh=False)
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _env_disabled() -> bool:
    value = os.environ.get("TQDM_DISABLE", "").strip().lower()
    return value not in ("", "0", "false", "no", "off")
