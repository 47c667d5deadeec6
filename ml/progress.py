"""Stage-by-stage progress with elapsed time, shared by the lifecycle and the pipeline."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass(kw_only=True)
class StageClock:
    """Prints ``[i/n] name`` as each stage starts and its elapsed time as it ends."""

    total: int
    emit: Callable[[str], None] = print
    started: float = field(default_factory=time.monotonic)
    timings: dict[str, float] = field(default_factory=dict)
    _index: int = 0

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self._index += 1
        self.emit(f"[{self._index}/{self.total}] {name} ...")
        begin = time.monotonic()
        try:
            yield
        except BaseException:
            self.emit(f"[{self._index}/{self.total}] {name} FAILED after {time.monotonic() - begin:.1f}s")
            raise
        self.timings[name] = time.monotonic() - begin
        self.emit(f"[{self._index}/{self.total}] {name} done in {self.timings[name]:.1f}s")

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started
