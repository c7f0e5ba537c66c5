"""The execution contract, and warm kernels that honour it.

Whatever runs sections — the local pool below, the preview's pool kept warm between
edits, the Dask executor of :mod:`annual_review.build.cluster` — is a
:class:`SectionRunner`: ``submit(SectionJob) -> Future[SectionOutcome]``, a context
manager that owns its kernels. A section's failure is an outcome, never an exception.

A :class:`KernelPool` runs sections on ``size`` kernels, each owned by one thread of
the pool that starts it, warms it and feeds it one section after another. Before a
section the kernel's namespace is cleared and its process state restored (see
:mod:`annual_review.kernel.isolation`); after it, a kernel whose section changed anything
that cannot be restored is retired and replaced, so no section's output depends on
which section ran before it on the same kernel.

Nothing hangs: each section has a time limit, and a kernel that dies (``os._exit``,
a SIGKILL from the out-of-memory killer) is noticed within a second. Either way the
section fails with what happened, its partly executed notebook is saved, the kernel
is replaced and the other sections go on. Kernels are always shut down, on success,
failure, Ctrl-C or SIGTERM; closing a pool takes seconds, whatever is queued or running.
The code that runs inside the kernels is :mod:`annual_review.kernel.session`'s functions,
called by reference.
"""

from __future__ import annotations

import concurrent.futures
import queue
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol, runtime_checkable

from ..core.config import DEFAULT_TIMEOUT, MEMORY_ENV
from ..core.exceptions import plain_os_error
from ..kernel import session
from .kernels import (ENGINE, KERNEL_NAME, Kernel, KernelError, SectionStopped, imports, plain_traceback, register_engine,
                      spawn_kernel, start_kernel, take_spare, warm_kernel)

STOP_SECONDS = 3.0  # what closing a runner waits for its kernels to end by themselves before killing them


# --- the contract ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SectionJob:
    """One section to run: its notebook, where its executed copy goes, its parameters and what its kernel is told."""

    notebook: Path
    target: Path
    parameters: dict
    timeout: float = DEFAULT_TIMEOUT
    env: dict = field(default_factory=dict)  # the body, its params, the chart fonts: for this section only
    cwd: str = ""  # the folder it runs in (its notebooks folder); the runner's own when empty


@dataclass(frozen=True)
class SectionOutcome:
    """How a section's run ended, as a plain value (a runner's Future never raises for a section's failure).

    ``status``: ``ok``; ``error`` (a cell raised: ``cell`` is its 1-based position as the author sees the
    notebook); ``stopped`` (out of time, or its kernel died); ``broken`` (it could not run at all: no kernel,
    an unreadable notebook, a full disk, a fault of ours — ``traceback`` then says where); ``cancelled`` (the
    runner was closed while it ran: the build is being stopped).
    """

    status: str
    cell: int | None = None
    error: str = ""
    traceback: str = ""
    seconds: float = 0.0
    reads: tuple = ()  # every file it read or looked for, absolute
    kernel: int = 0  # the process id of the kernel it ran on
    stamps: dict = field(default_factory=dict)  # each file it opened → [mtime_ns, size] when it opened it
    unchecked: dict = field(default_factory=dict)  # each file it loaded a table from without a schema check → digest
    executed: bytes | None = field(default=None, repr=False)  # the executed notebook, when it ran on another machine

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@runtime_checkable
class SectionRunner(Protocol):
    """What runs sections: the local pool of warm kernels, the preview's (the same pool, kept), a Dask cluster.

    Used as a context manager that owns its kernels' lifetime: leaving it (or :meth:`close`) cancels the queued
    sections under its lock, starts no kernel from then on, and stops every kernel, in parallel, within seconds.
    """

    def start(self):
        """Make ready now what :meth:`submit` would otherwise make ready on first use (warm kernels); returns self."""
        ...

    def submit(self, job: SectionJob) -> concurrent.futures.Future:  # Future[SectionOutcome]
        ...

    def close(self) -> None:
        ...

    def __enter__(self):
        ...

    def __exit__(self, *exc) -> None:
        ...


_PAPERMILL_TAGS = {"injected-parameters", "papermill-error-cell-tag"}


def failing_cell(notebook: Path, exec_count: int | None) -> int | None:
    """The 1-based position, in the notebook as written, of the cell that raised.

    Cells papermill adds (injected parameters, error banners) are not counted, so the
    number matches what the author sees when opening the source notebook.
    """
    import nbformat

    try:
        nb = nbformat.read(notebook, as_version=4)
    except Exception:  # noqa: BLE001 - not saved, or not readable: the cell is unknown
        return None
    own = [c for c in nb.cells if not _PAPERMILL_TAGS & set(c.metadata.get("tags", []))]
    for i, cell in enumerate(own, 1):
        outputs = cell.get("outputs", []) if cell.cell_type == "code" else []
        if any(o.get("output_type") == "error" for o in outputs) or (
            exec_count is not None and cell.get("execution_count") == exec_count
        ):
            return i
    return None


@dataclass
class _Queued:
    job: SectionJob
    future: concurrent.futures.Future


class KernelPool:
    """A :class:`SectionRunner` on ``size`` warm kernels of this machine, each fed by a thread of its own.

    Kernels start as soon as the pool is entered, while the caller gets on with other
    work (checking data); :meth:`submit` queues a section for the first free kernel.
    ``log`` hears of kernels retired or replaced. Signals are not its business: the
    command line turns SIGINT and SIGTERM into one clean shutdown, which ends here.
    """

    def __init__(self, size: int, cwd: Path, *, log=None, env: dict | None = None, single_use: bool = False):
        self.size, self.cwd, self.env = max(1, size), Path(cwd), dict(env or {})
        # The caller expects no more sections than kernels (a rebuild of a part or two): the first kernels are made
        # ready for one section each, without the warm-up and baseline a reused kernel needs; a section beyond them
        # gets a kernel started as usual.
        self.single_use = single_use
        self.log = log or (lambda line: None)
        self._jobs: queue.Queue[_Queued | None] = queue.Queue()
        self._live: set[Kernel] = set()  # started (from the moment their process exists) and not yet ended
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._closed = False

    def __enter__(self) -> "KernelPool":
        return self

    def start(self) -> "KernelPool":
        """Start the kernels now, if not yet started, and return: their processes are started here (a tenth of a
        second each), the rest of their start — connecting, warming up — by the pool's threads while the caller
        checks data. :meth:`submit` starts them too. Nothing starts once the pool is closed."""
        with self._lock:
            if self._threads or self._closed:
                return self
            spawned: list[Kernel | KernelError] = []
            for _ in range(self.size):
                try:
                    kernel = take_spare() or spawn_kernel(self.cwd, self.env)
                except Exception as exc:  # noqa: BLE001 - handed to the section that waits for this kernel
                    spawned.append(exc if isinstance(exc, KernelError) else KernelError(f"a kernel could not start: {exc}"))
                else:
                    self._live.add(kernel)
                    spawned.append(kernel)
            # While the kernels' processes start, the modules that talk to them and run notebooks are imported here,
            # before the caller goes on: in the pool's threads they would share this process's one interpreter lock
            # with the caller's work (checking data), and both would be slower to finish.
            imports()
            # Daemon threads: a thread still listening to a kernel that is gone never keeps the process alive.
            self._threads = [threading.Thread(target=self._serve, args=(first,), name=f"kernel-{i}", daemon=True)
                             for i, first in enumerate(spawned)]
            for thread in self._threads:
                thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Cancel what is queued, start nothing more, and end every kernel within seconds (idle ones shut down in
        parallel, busy or starting ones killed)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            queued = []
            while True:
                try:
                    queued.append(self._jobs.get_nowait())
                except queue.Empty:
                    break
            busy = [k for k in self._live if k.busy or not k.ready]
            for _ in self._threads:
                self._jobs.put(None)  # an idle thread shuts its kernel down and ends
        for item in queued:
            if item is not None:
                item.future.cancel()
        for kernel in busy:  # a section still running, a kernel still starting: killed; its thread sees it die
            kernel.kill()
        deadline = time.monotonic() + STOP_SECONDS
        for thread in self._threads:  # the threads end together: each join waits only for what is left
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        with self._lock:
            left = list(self._live)
        for kernel in left:  # a thread that did not end in time: its kernel is killed all the same
            kernel.kill()
            kernel.reap()

    def submit(self, job: SectionJob) -> concurrent.futures.Future:
        """Queue ``job``; a Future of its :class:`SectionOutcome` (cancelled if the pool closes first)."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        self.start()
        with self._lock:
            if self._closed:
                future.cancel()
            else:
                self._jobs.put(_Queued(job, future))
        return future

    def run(self, job: SectionJob) -> SectionOutcome:
        return self.submit(job).result()

    # --- each thread of the pool ---------------------------------------------------------------

    def _admit(self, kernel: Kernel) -> None:
        with self._lock:
            if self._closed:  # the build ended while this kernel was starting
                raise KernelError("the build is over")
            self._live.add(kernel)

    def _new_kernel(self) -> Kernel | KernelError:
        with self._lock:
            if self._closed:
                return KernelError("the build is over")
        try:
            return start_kernel(self.cwd, self.env, started=self._admit)
        except BaseException as exc:  # noqa: BLE001 - handed to the section that waits for this kernel
            with self._lock:
                self._live = {k for k in self._live if k.alive()}
            return exc if isinstance(exc, KernelError) else KernelError(f"a kernel could not start: {exc}")

    def _warm(self, spawned: Kernel | KernelError) -> Kernel | KernelError:
        """Make a kernel :meth:`start` spawned ready, in this thread."""
        if not isinstance(spawned, Kernel):
            return spawned
        try:
            return warm_kernel(spawned, self.cwd, single_use=self.single_use, env=self.env)
        except BaseException as exc:  # noqa: BLE001 - handed to the section that waits for this kernel
            with self._lock:
                self._live.discard(spawned)
            return exc if isinstance(exc, KernelError) else KernelError(f"a kernel could not start: {exc}")

    def _retire(self, kernel: Kernel) -> None:
        with self._lock:
            self._live.discard(kernel)
        _quietly(kernel.shutdown)

    def _serve(self, spawned: Kernel | KernelError) -> None:
        kernel = self._warm(spawned)  # started ahead, before any section asks
        while True:
            item = self._jobs.get()
            if item is None:
                break
            if not item.future.set_running_or_notify_cancel():
                continue
            if isinstance(kernel, Kernel) and not kernel.alive():  # died while idle: never hand out a dead kernel
                self.log(f"kernel {kernel.pid}: {kernel.death()}; replaced")
                self._retire(kernel)
                kernel = None
            elif isinstance(kernel, Kernel) and kernel.single_use and kernel.runs:  # it has had its one section
                self._retire(kernel)
                kernel = None
            if not isinstance(kernel, Kernel):
                kernel = self._new_kernel()
                if not isinstance(kernel, Kernel):
                    item.future.set_result(SectionOutcome("broken", error=str(kernel)))
                    kernel = None
                    continue
            kernel.busy = True
            try:
                outcome = self._run(kernel, item.job)
            finally:
                kernel.busy = False
                kernel.runs += 1
            if self._closed:  # stopped by the close, not by anything of its own: not a result to publish
                outcome = replace(outcome, status="cancelled", error="the build was stopped")
            item.future.set_result(outcome)  # before a replacement kernel is started: the section is done
            if kernel.single_use:  # nothing to settle: no other section runs on it (one that comes gets a new kernel)
                continue
            if not kernel.retire_reason and kernel.alive() and not self._closed:
                self._settle(kernel, item.job)  # while the build renders, or the preview waits for an edit
            if kernel.retire_reason or not kernel.alive():
                self._retire(kernel)
                kernel = self._new_kernel()  # warm again before the next section (none once closed)
        if isinstance(kernel, Kernel):
            self._retire(kernel)

    def _settle(self, kernel: Kernel, job: SectionJob) -> None:
        """After a section's result is handed on: retire the kernel if the section changed what cannot be put back,
        else empty it for the next section — now rather than when the next section waits for it."""
        kernel.busy = True
        try:
            changed = kernel.ask(session.settle)
            if changed:
                kernel.retire_reason = f"section {job.notebook.name} changed {', '.join(changed)}"
                self.log(f"kernel {kernel.pid} retired: {kernel.retire_reason}")
            else:
                kernel.clean = True
        except Exception as exc:  # noqa: BLE001 - a kernel that cannot be cleaned is not used again
            kernel.retire_reason = f"it could not be emptied for the next section ({exc})"
        finally:
            kernel.busy = False

    def _run(self, kernel: Kernel, job: SectionJob) -> SectionOutcome:
        import papermill
        from papermill.exceptions import PapermillExecutionError

        register_engine()
        started = time.monotonic()
        kernel.retire_reason = ""
        outcome: dict = {"status": "ok"}
        try:
            if not kernel.clean:
                kernel.ask(session.clean)
            kernel.clean = False
            kernel.ask(session.enter, dict(job.env), str(job.cwd or ""))
            papermill.execute_notebook(
                str(job.notebook), str(job.target), parameters=job.parameters, engine_name=ENGINE,
                km=kernel, kc=kernel.client, kernel_name=KERNEL_NAME, progress_bar=False, log_output=False,
                request_save_on_cell_execute=False, deadline=started + job.timeout, limit=job.timeout,
                save_to=str(job.target), death=kernel.death,
            )
        except SectionStopped as exc:  # out of time, or its kernel died: named, and the kernel replaced
            kernel.retire_reason = str(exc)
            outcome = {"status": "stopped", "error": str(exc), "cell": failing_cell(job.target, None)}
        except PapermillExecutionError as exc:
            error = f"{exc.ename}: {exc.evalue}"
            if exc.ename == "MemoryError" and job.env.get(MEMORY_ENV):
                error = ("MemoryError: the section needed more memory than its kernel may take "
                         f"({int(job.env[MEMORY_ENV]) // 1024**2} MB; memory: in the config)")
            outcome = {"status": "error", "error": error, "cell": failing_cell(job.target, exc.exec_count),
                       "traceback": plain_traceback(exc.traceback)}
        except OSError as exc:  # the notebook could not be read or written (a full disk, …): said plainly
            outcome = {"status": "broken", "error": plain_os_error(exc), "traceback": _traceback(exc)}
        except KernelError as exc:
            kernel.retire_reason = str(exc)
            inside = getattr(exc, "inside", "")
            outcome = {"status": "broken", "error": str(exc),
                       "traceback": _traceback(exc) + (f"\nIn the kernel:\n{inside}" if inside else "")}
        except Exception as exc:  # noqa: BLE001 - our fault or papermill's: kept with its traceback
            outcome = {"status": "broken", "error": f"{type(exc).__name__}: {exc}", "traceback": _traceback(exc)}
        seconds = time.monotonic() - started
        reads, stamps, unchecked = (), {}, {}
        if kernel.alive() and not kernel.retire_reason:
            try:
                found = kernel.ask(session.after)  # (what it changed is settled once its result is handed on)
                reads, stamps, unchecked = tuple(found["reads"]), dict(found["stamps"]), dict(found["unchecked"])
            except Exception as exc:  # noqa: BLE001 - a kernel that cannot answer is not used again
                kernel.retire_reason = f"it did not answer after section {job.notebook.name} ({exc})"
                if outcome["status"] == "ok":
                    outcome = {"status": "broken", "error": kernel.retire_reason}
        return SectionOutcome(seconds=seconds, reads=reads, stamps=stamps, unchecked=unchecked, kernel=kernel.pid,
                              **outcome)


def _traceback(exc: BaseException) -> str:
    import traceback

    return "".join(traceback.format_exception(exc))


def _quietly(action) -> None:
    try:
        action()
    except Exception:  # noqa: BLE001 - shutting down: do every step whatever one of them does
        pass
