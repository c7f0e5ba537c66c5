"""Warm kernels: started ahead, the costly imports paid once, reused section after section.

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
failure, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import concurrent.futures
import functools
import json
import queue
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

KERNEL_NAME = "python3"
KERNEL_ARGS = ["--Application.log_level=ERROR"]  # keep the kernel's start-up notices off the console
DEFAULT_TIMEOUT = 600  # seconds a section may run before it is stopped (config `timeout:`, `--timeout`)
# What every section pays for, paid once per kernel.
WARM_UP = ("import annual_review.notebook.charts, annual_review.registers.reading, annual_review.notebook.elements, annual_review.kernel.isolation, "
           "pandas, pandera.pandas, matplotlib.pyplot, IPython.display\n"
           "annual_review.kernel.isolation.warm_up()")
BASELINE = "__import__('annual_review.kernel.isolation', fromlist=['baseline']).baseline({cwd!r})"
RESET = """\
get_ipython().run_line_magic("reset", "-f")
import os as _os, annual_review.kernel.isolation as _isolation, annual_review.core.tracking as _tracking
_isolation.restore()
_os.environ.update({env!r})
_tracking.clear()
del _os, _isolation, _tracking
"""  # then what the section's build tells it (the body's name and params, the chart fonts), for this section only
# Asked of the kernel after each section: the files it read, and what it changed that cannot be restored.
AFTER = {
    "reads": "__import__('annual_review.core.tracking', fromlist=['reads']).reads()",
    "stamps": "__import__('annual_review.core.tracking', fromlist=['stamps']).stamps()",
    "changes": "__import__('annual_review.kernel.isolation', fromlist=['changes']).changes()",
}
_SIGNALS = {9: "SIGKILL, as the out-of-memory killer sends", 15: "SIGTERM", 11: "SIGSEGV", 6: "SIGABRT"}


class KernelError(RuntimeError):
    """A kernel could not be started or did not answer."""


class SectionStopped(Exception):
    """A section did not finish: it ran out of time, or its kernel died. ``cell`` is its index in the executed notebook."""

    def __init__(self, message: str, cell: int | None):
        super().__init__(message)
        self.cell = cell


@dataclass
class Run:
    """What running a section gave besides its executed notebook."""

    reads: list[str]  # the files it read
    kernel: int  # the process id of the kernel it ran on
    retired: str = ""  # why its kernel was retired after it, if it was
    stamps: dict = field(default_factory=dict)  # each file it opened → [mtime_ns, size] when it opened it


@dataclass(eq=False)  # kernels are told apart by identity
class Kernel:
    manager: object
    client: object
    retire_reason: str = ""  # set when it must not run another section
    reads: list = field(default_factory=list)
    stamps: dict = field(default_factory=dict)
    busy: bool = False  # running a section

    @property
    def pid(self) -> int:
        process = getattr(self.manager.provisioner, "process", None)
        return getattr(process, "pid", 0)

    def alive(self) -> bool:
        try:
            return bool(self.manager.is_alive())
        except Exception:  # noqa: BLE001 - a kernel that cannot say is not one to use
            return False

    def death(self) -> str:
        """How the kernel's process ended, in words."""
        process = getattr(self.manager.provisioner, "process", None)
        code = process.poll() if process is not None else None
        if code is None:
            return "the kernel died"
        if code < 0:
            return f"the kernel died (killed by signal {-code}, {_SIGNALS.get(-code, 'a signal')})"
        return f"the kernel died (it exited with status {code})"

    def run(self, code: str, *, expressions: dict[str, str] | None = None, timeout: float = 120) -> dict:
        from jupyter_core.utils import run_sync

        if not self.alive():
            raise KernelError(self.death())
        reply = run_sync(self.client.execute_interactive)(
            code, user_expressions=expressions or {}, timeout=timeout, output_hook=lambda msg: None, allow_stdin=False
        )
        content = reply["content"]
        if content.get("status") != "ok":
            raise KernelError(f"{content.get('ename')}: {content.get('evalue')}")
        return content.get("user_expressions", {})

    def shutdown(self) -> None:
        """Close the client and end the kernel; from the thread that owns the kernel only."""
        try:
            self.client.stop_channels()
        finally:
            self.manager.shutdown_kernel(now=True)

    def kill(self) -> None:
        """End the kernel's process at once, from any thread (its owner then notices it died and cleans up)."""
        import os

        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass


_importing = threading.Lock()


def imports() -> None:
    """Import the notebook machinery one thread at a time: threads importing it at once can meet half-made modules."""
    with _importing:
        import jupyter_client.asynchronous  # noqa: F401
        import jupyter_client.manager  # noqa: F401
        import nbclient.exceptions  # noqa: F401
        import papermill  # noqa: F401


def _start(cwd: Path, env: dict | None = None) -> Kernel:
    """A new kernel in ``cwd`` (its environment with ``env``), warmed up, its state recorded; its client is for the
    calling thread only."""
    imports()
    from jupyter_client.asynchronous import AsyncKernelClient
    from jupyter_client.manager import KernelManager
    from jupyter_core.utils import run_sync

    manager = KernelManager(kernel_name=KERNEL_NAME)
    import os

    manager.start_kernel(extra_arguments=KERNEL_ARGS, cwd=str(cwd), env={**os.environ, **(env or {})})
    try:
        # An asynchronous client, so that nbclient's watch on the kernel's life runs while a cell executes.
        info = manager.get_connection_info(session=True)
        client = AsyncKernelClient(parent=manager, connection_file=manager.connection_file, **info)
        client.allow_stdin = False
        client.start_channels()
        run_sync(client.wait_for_ready)(timeout=60)
        kernel = Kernel(manager, client)
        kernel.run(WARM_UP)
        # The baseline is taken as the check after each section is: both outside a cell's run.
        _literal(kernel.run("", expressions={"baseline": BASELINE.format(cwd=str(cwd))})["baseline"])
        return kernel
    except BaseException:
        manager.shutdown_kernel(now=True)
        raise


_ENGINE = "annual-review-warm"


@functools.cache  # once per process: the engine class is made and registered a single time
def _register_engine() -> None:
    """A Papermill engine that runs a notebook through the warm kernel's own, already connected client.

    Papermill's default engine opens a new client per notebook (channels, a readiness
    handshake) even when handed a running kernel; this one reuses the pool's. A
    section that runs out of time or whose kernel dies is saved as far as it ran, with
    the stop recorded in the cell where it happened, and raised as :class:`SectionStopped`.
    """
    import nbformat
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines

    class WarmEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,
                                     stderr_file=None, start_timeout=60, execution_timeout=None, **kwargs):
            kc, deadline, limit = kwargs.pop("kc"), kwargs.pop("deadline"), kwargs.pop("limit")
            save_to, death = kwargs.pop("save_to"), kwargs.pop("death")
            kwargs.pop("input_path", None)
            running: list[int] = []  # the index of the cell being executed
            client = PapermillNotebookClient(
                nb_man, kernel_name=kernel_name, startup_timeout=start_timeout, log_output=log_output,
                stdout_file=stdout_file, stderr_file=stderr_file, interrupt_on_timeout=False,
                # The section's time limit, whatever cell it reaches: each cell gets what is left of it.
                timeout_func=lambda cell: max(1, int(deadline - time.monotonic() + 0.999)),
                on_cell_execute=lambda cell, cell_index: running.append(cell_index), **kwargs,
            )
            client.kc = kc  # nbclient then uses it, and leaves it open, as the kernel is not its own
            try:
                return client.execute()
            except (CellTimeoutError, DeadKernelError) as exc:
                index = running[-1] if running else None
                if isinstance(exc, CellTimeoutError):
                    message = f"timed out after {limit:g} s (the section's time limit)"
                else:
                    message = death()
                if index is not None:
                    cell = nb_man.nb.cells[index]
                    cell.outputs.append(nbformat.v4.new_output("error", ename=type(exc).__name__, evalue=message,
                                                               traceback=[message]))
                    nb_man.cell_exception(cell, cell_index=index, exception=exc)
                nbformat.write(nb_man.nb, save_to)
                raise SectionStopped(message, index) from None

    papermill_engines.register(_ENGINE, WarmEngine)  # idempotent: a name maps to one engine


@dataclass
class _Job:
    notebook: Path
    target: Path
    parameters: dict
    timeout: float
    future: concurrent.futures.Future
    env: dict = field(default_factory=dict)


class KernelPool:
    """``size`` warm kernels, each fed by a thread of its own; use as a context manager so they are always shut down.

    Kernels start as soon as the pool is entered, while the caller gets on with other
    work (checking data); :meth:`submit` queues a section for the first free kernel.
    ``log`` hears of kernels retired or replaced.
    """

    def __init__(self, size: int, cwd: Path, *, log=None, env: dict | None = None, handle_signals: bool = True):
        self.size, self.cwd, self.env = max(1, size), cwd, dict(env or {})
        self.handle_signals = handle_signals  # False inside a Dask worker, which handles its own
        self.log = log or (lambda line: None)
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._live: set[Kernel] = set()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._previous_sigterm = None

    def __enter__(self) -> "KernelPool":
        if self.handle_signals and threading.current_thread() is threading.main_thread():
            # A kill (SIGTERM) unwinds like Ctrl-C, so the kernels are shut down.
            self._previous_sigterm = signal.signal(signal.SIGTERM, _raise_interrupt)
        # Daemon threads: on Ctrl-C the kernels are shut down and the process must exit without
        # waiting for a thread still listening to a kernel that is gone.
        self._threads = [threading.Thread(target=self._serve, name=f"kernel-{i}", daemon=True) for i in range(self.size)]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        with self._lock:
            self._closed = True
            busy = [k for k in self._live if k.busy]
        for _ in self._threads:
            self._jobs.put(None)  # an idle thread shuts its kernel down and ends
        for kernel in busy:  # a section still running (Ctrl-C, SIGTERM): its kernel is killed, its thread sees it die
            kernel.kill()
        for thread in self._threads:  # a kernel still starting shuts itself down when it is ready
            thread.join(timeout=30)
        with self._lock:
            left = list(self._live)
        for kernel in left:  # a thread that did not end in time: its kernel is killed all the same
            kernel.kill()
        if self._previous_sigterm is not None:
            signal.signal(signal.SIGTERM, self._previous_sigterm)

    def submit(self, notebook: Path, target: Path, parameters: dict, *, timeout: float = DEFAULT_TIMEOUT,
               env: dict | None = None):
        """Queue ``notebook`` to run with ``parameters`` into ``target``; a Future of its :class:`Run`.

        The Future raises papermill's PapermillExecutionError (after saving ``target``) if a
        cell fails, :class:`SectionStopped` if the section ran out of time or its kernel died
        (after saving what ran), :class:`KernelError` if no kernel could be started.
        """
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._jobs.put(_Job(Path(notebook), Path(target), dict(parameters), float(timeout), future, dict(env or {})))
        return future

    def execute(self, notebook: Path, target: Path, parameters: dict, *, timeout: float = DEFAULT_TIMEOUT,
                env: dict | None = None) -> Run:
        return self.submit(notebook, target, parameters, timeout=timeout, env=env).result()

    # --- each thread of the pool ---------------------------------------------------------------

    def _new_kernel(self) -> Kernel | BaseException:
        try:
            kernel = _start(self.cwd, self.env)
        except BaseException as exc:  # noqa: BLE001 - handed to the section that waits for this kernel
            return KernelError(f"a kernel could not start: {exc}")
        with self._lock:
            if self._closed:  # the build ended while this kernel was starting
                _quietly(kernel.shutdown)
                return KernelError("the build is over")
            self._live.add(kernel)
        return kernel

    def _retire(self, kernel: Kernel) -> None:
        with self._lock:
            self._live.discard(kernel)
        _quietly(kernel.shutdown)

    def _serve(self) -> None:
        kernel = self._new_kernel()  # started ahead, before any section asks
        while True:
            job = self._jobs.get()
            if job is None:
                break
            if not job.future.set_running_or_notify_cancel():
                continue
            if isinstance(kernel, Kernel) and not kernel.alive():  # died while idle: never hand out a dead kernel
                self.log(f"kernel {kernel.pid}: {kernel.death()}; replaced")
                self._retire(kernel)
                kernel = None
            if not isinstance(kernel, Kernel):
                kernel = self._new_kernel()
                if not isinstance(kernel, Kernel):
                    job.future.set_exception(kernel)
                    kernel = None
                    continue
            started = time.monotonic()
            kernel.busy = True
            try:
                run = self._run(kernel, job)
            except BaseException as exc:  # noqa: BLE001 - the section's failure is its caller's to report
                job.future.elapsed = time.monotonic() - started
                job.future.set_exception(exc)
            else:
                job.future.elapsed = time.monotonic() - started
                job.future.set_result(run)  # before a replacement kernel is started: the section is done
            finally:
                kernel.busy = False
            if kernel.retire_reason or not kernel.alive():
                self._retire(kernel)
                kernel = None if self._closed else self._new_kernel()  # warm again before the next section
        if isinstance(kernel, Kernel):
            self._retire(kernel)

    def _run(self, kernel: Kernel, job: _Job) -> Run:
        import papermill

        _register_engine()
        kernel.retire_reason = ""
        kernel.run(RESET.format(env={str(k): str(v) for k, v in job.env.items()}))
        deadline = time.monotonic() + job.timeout
        try:
            papermill.execute_notebook(
                str(job.notebook),
                str(job.target),
                parameters=job.parameters,
                engine_name=_ENGINE,
                km=kernel.manager,
                kc=kernel.client,
                kernel_name=KERNEL_NAME,
                progress_bar=False,
                log_output=False,
                request_save_on_cell_execute=False,
                deadline=deadline,
                limit=job.timeout,
                save_to=str(job.target),
                death=kernel.death,
            )
        except SectionStopped as exc:
            kernel.retire_reason = str(exc)
            raise
        except BaseException:
            _quietly(lambda: self._check(kernel, job))  # a failed section may have changed things too
            raise
        self._check(kernel, job)
        return Run(kernel.reads, kernel.pid, kernel.retire_reason, kernel.stamps)

    def _check(self, kernel: Kernel, job: _Job) -> None:
        """Ask the kernel which files the section read and what it changed; retire it if the change sticks."""
        kernel.reads, kernel.stamps = [], {}
        try:
            after = kernel.run("", expressions=AFTER)
            changed = json.loads(_literal(after["changes"]))
            kernel.reads = json.loads(_literal(after["reads"]))
            kernel.stamps = json.loads(_literal(after["stamps"]))
        except Exception as exc:  # noqa: BLE001 - a kernel that cannot answer is not used again
            kernel.retire_reason = f"it did not answer after section {job.notebook.name} ({exc})"
            raise KernelError(kernel.retire_reason) from None
        if changed:
            kernel.retire_reason = f"section {job.notebook.name} changed {', '.join(changed)}"
            self.log(f"kernel {kernel.pid} retired: {kernel.retire_reason}")


def _literal(expression_result: dict) -> str:
    """A user-expression result (a repr of a list of str) as JSON."""
    import ast

    if expression_result.get("status") != "ok":
        raise KernelError(f"{expression_result.get('ename')}: {expression_result.get('evalue')}")
    return json.dumps(ast.literal_eval(expression_result["data"]["text/plain"]))  # never evaluated as code


def _quietly(action) -> None:
    try:
        action()
    except Exception:  # noqa: BLE001 - shutting down: do every step whatever one of them does
        pass


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt
