"""One progress reporter for the build (a line per section) and the workspace (a line per body-year): each item
told as it finishes, counted; a bar as well when the lines go to a terminal."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable


class Progress:
    """``[n/total] line`` as each item finishes; with ``tally``, ``[n/total: d done, r running, f failed] line``."""

    def __init__(self, total: int, log: Callable[[str], None], *, unit: str = "section", tally: bool = False):
        self.total, self.log, self.tally = total, log, tally
        self.done = self.running = self.failed = 0
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self.bar = None
        if total and log is print and sys.stdout.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit=unit, leave=False)

    def started(self) -> None:
        with self._lock:
            self.running += 1

    def report(self, line: str, *, failed: bool = False, started: bool = False) -> None:
        """An item finished (``failed`` or not); ``started``: it was counted as running."""
        with self._lock:
            self.running -= started
            self.failed += failed
            self.done += not failed
            count = self.done + self.failed
            head = (f"[{count}/{self.total}: {self.done} done, {self.running} running, {self.failed} failed]"
                    if self.tally else f"[{count}/{self.total}]")
            if self.tally and count < self.total:  # at the pace so far: what a city office plans its afternoon by
                left = (time.monotonic() - self._started) / count * (self.total - count)
                head += f" about {_duration(left)} left"
            if self.bar is not None:
                self.bar.write(f"{head} {line}")
                self.bar.update(1)
                if self.tally:
                    self.bar.set_postfix_str(f"{self.done} done, {self.running} running, {self.failed} failed")
                return
        self.log(f"{head} {line}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"
