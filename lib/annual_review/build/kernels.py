"""One warm kernel: its process started in a folder with an environment (the build's own Python running
:mod:`annual_review.kernel.launch`, which writes its own connection file), connected to, warmed up, asked
questions by calling :mod:`annual_review.kernel.session`'s functions by reference, run through Papermill
on its own client, and ended — by its owner's thread, or killed at once from any thread.

Starting a kernel is two steps, so the slow one overlaps other work: :func:`spawn_kernel` starts the
process at once (no Jupyter module needed); :func:`warm_kernel`, in the thread that will own it,
connects and warms it up while the process boots. A kernel's connection file and stderr live in a
private folder of its own, removed when it ends; the last line it wrote is named when it dies.
"""

from __future__ import annotations

import functools
import os
import queue
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..kernel import session

KERNEL_NAME = "python3"
# The kernel's start-up notices off the console; no input history (a build's cells are not the user's typing: nothing
# written to ~/.ipython, and no history database opened at start).
KERNEL_ARGS = ["--Application.log_level=ERROR", "--HistoryManager.enabled=False"]
_SIGNALS = {9: "SIGKILL, as the out-of-memory killer sends", 15: "SIGTERM", 11: "SIGSEGV", 6: "SIGABRT"}
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # colour codes in a kernel's tracebacks


def plain_traceback(lines) -> str:
    """A kernel's traceback (a list of coloured lines) as plain text."""
    return _ANSI.sub("", "\n".join(lines or []))


class KernelError(RuntimeError):
    """A kernel could not be started or did not answer."""


class SectionStopped(Exception):
    """A section did not finish: it ran out of time, or its kernel died. ``cell`` is its index in the executed notebook."""

    def __init__(self, message: str, cell: int | None):
        super().__init__(message)
        self.cell = cell


_live: dict[int, Path] = {}  # every kernel this process started and has not seen end, with its folder: for a second Ctrl-C
_live_lock = threading.Lock()


def kill_all() -> None:
    """End every kernel this process started, at once (a second Ctrl-C: no waiting for anything), and remove their
    folders (connection file, log), which no one will read."""
    with _live_lock:
        kernels = list(_live.items())
    for pid, folder in kernels:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
        shutil.rmtree(folder, ignore_errors=True)


def call(function, *args) -> str:
    """The expression that calls ``function`` (a function of :mod:`annual_review.kernel.session`) in a kernel.

    Built from the function object itself, so renaming it renames the call; the arguments are literals."""
    from ast import literal_eval  # (here: a command that asks no kernel anything does not load ast)

    for value in args:
        literal_eval(repr(value))  # only plain values cross into a kernel
    arguments = ", ".join(repr(value) for value in args)
    return f"__import__({function.__module__!r}, fromlist=['_']).{function.__qualname__}({arguments})"


@dataclass(eq=False)  # kernels are told apart by identity
class Kernel:
    process: subprocess.Popen  # the kernel's process, started by :func:`spawn_kernel`
    folder: Path  # its own private temporary folder: the connection file (with its key) and the log
    client: object = None  # the owner thread's client, once connected
    retire_reason: str = ""  # set when it must not run another section
    busy: bool = False  # running a section
    ready: bool = False  # warmed up and its baseline taken
    clean: bool = False  # nothing of a section left: its namespace empty, the baseline's state back
    single_use: bool = False  # started for one section (no warm-up, no baseline): never given a second
    runs: int = 0  # the sections it has run
    spare: bool = False  # started by :func:`start_spare`, before its folder and environment were known

    has_kernel = True  # what nbclient asks of the manager it is handed: the kernel is running, not nbclient's to start

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def connection_file(self) -> Path:
        return self.folder / "kernel.json"  # written by the kernel once its ports are bound

    @property
    def log(self) -> Path:
        return self.folder / "stderr.log"  # the kernel's own errors (never the build's console)

    def alive(self) -> bool:
        return self.process.poll() is None

    def death(self) -> str:
        """How the kernel's process ended, in words (with the last line it wrote, if any)."""
        code = self.process.poll()
        if code is None:
            said = "the kernel died"
        elif code < 0:
            said = f"the kernel died (killed by signal {-code}, {_SIGNALS.get(-code, 'a signal')})"
        else:
            said = f"the kernel died (it exited with status {code})"
        last = _last_line(self.log)
        return f"{said}: {last}" if last else said

    def ask(self, function, *args, timeout: float = 120, as_cell: bool = False):
        """Call ``function`` of :mod:`annual_review.kernel.session` in the kernel; its value.

        Outside a cell's run (a user expression), as the baseline and the checks after a section are taken, since
        IPython adds ``exit``, ``get_ipython`` and the like to builtins while a cell runs; ``as_cell`` runs it as a
        cell instead (the warm-up: what a kernel sets up on its first cell, it sets up then)."""
        from ast import literal_eval

        from jupyter_core.utils import run_sync

        if not self.alive():
            raise KernelError(self.death())
        code, expressions = (call(function, *args), {}) if as_cell else ("", {"value": call(function, *args)})
        content = run_sync(self._execute)(code, expressions, timeout)
        if content.get("status") != "ok":
            raise KernelError(f"{content.get('ename')}: {content.get('evalue')}")
        if as_cell:
            return True
        result = content.get("user_expressions", {}).get("value", {})
        if result.get("status") != "ok":
            error = KernelError(f"{function.__name__}: {result.get('ename')}: {result.get('evalue')}")
            error.inside = plain_traceback(result.get("traceback"))  # where, in the kernel
            raise error
        return literal_eval(result["data"]["text/plain"])  # a repr of plain values, never evaluated as code

    async def _execute(self, code: str, expressions: dict, timeout: float) -> dict:
        """Run ``code`` and wait for its reply and for the kernel to be idle again, watching that it is alive: a kernel
        killed meanwhile (a build stopped) is noticed within a quarter of a second, never waited for."""
        msg_id = self.client.execute(code, store_history=False, user_expressions=expressions, allow_stdin=False)
        deadline = time.monotonic() + timeout
        reply = None
        for shell, channel in ((True, self.client.get_shell_msg), (False, self.client.get_iopub_msg)):
            while True:
                try:
                    message = await channel(timeout=0.25)
                except queue.Empty:
                    if not self.alive():
                        raise KernelError(self.death()) from None
                    if time.monotonic() > deadline:
                        raise KernelError(f"the kernel did not answer within {timeout:g} s") from None
                    continue
                if message.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                if shell:
                    reply = message
                    break
                if message["msg_type"] == "status" and message["content"].get("execution_state") == "idle":
                    break
        return reply["content"]

    def shutdown(self) -> None:
        """Close the client and end the kernel; from the thread that owns the kernel only. Nothing of a section is
        left to save in a kernel, so it is ended at once (as a kernel manager's ``shutdown_kernel(now=True)``)."""
        try:
            if self.client is not None:
                self.client.stop_channels()
        finally:
            self.kill()
            self.reap()

    def kill(self) -> None:
        """End the kernel's process at once, from any thread (its owner then notices it died and cleans up)."""
        try:
            self.process.kill()
        except OSError:
            pass

    def reap(self, timeout: float = 2) -> None:
        """Wait (briefly) for the ended process, so no zombie is left, and forget it and its files."""
        try:
            _wait(self.process, timeout)
        except subprocess.TimeoutExpired:  # the system reaps it when this process ends
            pass
        self.forget()

    def forget(self) -> None:
        with _live_lock:
            _live.pop(self.pid, None)
        shutil.rmtree(self.folder, ignore_errors=True)


def _wait(process: subprocess.Popen, timeout: float) -> None:
    """``process.wait(timeout)``, woken the moment the process ends (a process file descriptor, where the system has
    them) rather than by ``wait``'s polling, which sleeps in steps from half a millisecond up."""
    if process.returncode is None:
        try:
            handle = os.pidfd_open(process.pid)
        except (AttributeError, OSError):  # not Linux 5.3 or later, or already reaped by another thread's poll()
            pass
        else:
            try:
                watch = select.poll()  # (not select(): a workspace build's process may hold more than 1024 files)
                watch.register(handle, select.POLLIN)
                ended = watch.poll(timeout * 1000)
            finally:
                os.close(handle)
            if not ended:
                raise subprocess.TimeoutExpired(process.args, timeout)
    process.wait(timeout=timeout)


def _last_line(log: Path | None) -> str:
    try:
        lines = [line.strip() for line in log.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    except (OSError, AttributeError):
        return ""
    return lines[-1][:300] if lines else ""


_importing = threading.Lock()


def imports() -> None:
    """Import the notebook machinery one thread at a time: threads importing it at once can meet half-made modules."""
    with _importing:
        import jupyter_client.asynchronous  # noqa: F401
        import jupyter_client.manager  # noqa: F401
        import nbclient.exceptions  # noqa: F401
        import papermill  # noqa: F401


ENGINE = "annual-review-warm"


@functools.cache  # once per process: the engine class is made and registered a single time
def register_engine() -> None:
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

    class Client(PapermillNotebookClient):
        async def _async_poll_kernel_alive(self) -> None:
            """nbclient's watch on the kernel while a cell runs, every tenth of a second rather than every second: a
            kernel killed by a build being stopped (or by the out-of-memory killer) is noticed at once."""
            import asyncio

            while True:
                await asyncio.sleep(0.1)
                try:
                    await self._async_check_alive()
                except DeadKernelError:
                    self.task_poll_for_reply.cancel()
                    return

    class WarmEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,
                                     stderr_file=None, start_timeout=60, execution_timeout=None, **kwargs):
            kc, deadline, limit = kwargs.pop("kc"), kwargs.pop("deadline"), kwargs.pop("limit")
            save_to, death = kwargs.pop("save_to"), kwargs.pop("death")
            kwargs.pop("input_path", None)
            running: list[int] = []  # the index of the cell being executed
            client = Client(
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

    papermill_engines.register(ENGINE, WarmEngine)  # idempotent: a name maps to one engine


def spawn_kernel(cwd: Path, env: dict | None = None) -> Kernel:
    """A new kernel's process in ``cwd`` (its environment with ``env``), not yet connected to: :func:`warm_kernel`
    makes it ready. Started at once (no Jupyter module is needed to start it), so a caller can start its kernels'
    processes before other work and leave the rest of their start to threads.

    The kernel is the build's own Python running ipykernel (:mod:`annual_review.kernel.launch`); it binds its own
    ports and writes them to its connection file (no port is chosen here and given away). Its session of its own
    (``start_new_session``): a Ctrl-C at the terminal reaches the build, which ends its kernels, not each kernel.
    """
    folder = Path(tempfile.mkdtemp(prefix="annual-review-kernel-"))  # private (0700): the connection file has its key
    kernel_json, log = folder / "kernel.json", folder / "stderr.log"
    try:
        with log.open("wb") as stderr:  # the kernel's own errors: in its log, named when it dies
            process = subprocess.Popen(
                [sys.executable, "-m", "annual_review.kernel.launch", "-f", str(kernel_json), *KERNEL_ARGS],
                cwd=str(cwd), env={**os.environ, **(env or {}), "JPY_PARENT_PID": str(os.getpid())},
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    kernel = Kernel(process, folder)
    with _live_lock:
        _live[kernel.pid] = folder
    return kernel


_spare: list[Kernel] = []  # a kernel started before its build knew what it needs: for the first pool to take


def start_spare() -> None:
    """Start a kernel's process now, before a build has read its config (the command line does, first thing): it
    boots while the build plans, and the first pool of this process takes it (told its folder and environment then).
    A build that runs nothing ends it with :func:`end_spare`."""
    with _live_lock:
        if _spare:
            return
    try:
        kernel = spawn_kernel(Path.cwd())
    except Exception:  # noqa: BLE001 - only a head start: the pool starts its kernels itself and says what fails
        return
    kernel.spare = True
    with _live_lock:
        _spare.append(kernel)


def take_spare() -> Kernel | None:
    """The kernel :func:`start_spare` started, if it is still there and alive (once: it is the caller's now)."""
    with _live_lock:
        kernel = _spare.pop() if _spare else None
    if kernel is not None and not kernel.alive():
        kernel.reap()
        return None
    return kernel


def end_spare() -> None:
    """End the spare kernel if no pool took it."""
    kernel = take_spare()
    if kernel is not None:
        kernel.kill()
        kernel.reap()


def _connection(kernel: Kernel, timeout: float) -> dict:
    """The kernel's connection file, once it has written it whole."""
    import json

    deadline = time.monotonic() + timeout
    while True:
        try:
            return json.loads(kernel.connection_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # not written yet, or being written
            pass
        if not kernel.alive():
            raise KernelError(kernel.death())
        if time.monotonic() > deadline:
            raise KernelError(f"the kernel did not start within {timeout:g} s")
        time.sleep(0.01)


@functools.cache
def _client_class():
    """An asynchronous client that asks the kernel's process whether it is alive (nbclient's watch on it while a
    cell runs), rather than waiting for missed heartbeats."""
    from jupyter_client.asynchronous import AsyncKernelClient

    class Client(AsyncKernelClient):
        kernel: Kernel | None = None

        async def _async_is_alive(self) -> bool:
            return self.kernel is not None and self.kernel.alive()

        is_alive = _async_is_alive

    return Client


async def _ready(kernel: Kernel, timeout: float) -> None:
    """Wait until the kernel answers on its shell channel and its output (IOPub) reaches us.

    As ``wait_for_ready`` does, but without its closing wait for quiet (a fifth of a second): a kernel-info request
    is sent until its reply and the kernel's "idle" for it have both come back; the second proves the output
    channel's subscription is in place. Later messages are matched to their requests, so nothing stale matters."""
    deadline = time.monotonic() + timeout
    client = kernel.client
    while True:
        msg_id = client.kernel_info()
        replied = idle = False
        wait_until = time.monotonic() + 1.0
        while not (replied and idle) and time.monotonic() < wait_until:
            if not replied:
                try:
                    message = await client.get_shell_msg(timeout=0.05)
                    replied = message.get("parent_header", {}).get("msg_id") == msg_id
                except queue.Empty:
                    pass
            if replied and not idle:
                try:
                    message = await client.get_iopub_msg(timeout=0.05)
                    idle = (message.get("parent_header", {}).get("msg_id") == msg_id and message["msg_type"] == "status"
                            and message["content"].get("execution_state") == "idle")
                except queue.Empty:
                    pass
            if not kernel.alive():
                raise KernelError(kernel.death())
        if replied and idle:
            return
        if time.monotonic() > deadline:
            raise KernelError(f"the kernel did not answer within {timeout:g} s")


def warm_kernel(kernel: Kernel, cwd: Path, single_use: bool = False, timeout: float = 60, env: dict | None = None) -> Kernel:
    """Connect to a kernel :func:`spawn_kernel` started, warm it up and record its state (the baseline, in ``cwd``);
    its client is for the calling thread only. A kernel that cannot be made ready is ended.

    ``single_use``: the kernel will run one section and no other (see :func:`annual_review.kernel.session.prepare`):
    made ready for it only, which saves the warm-up's and the baseline's half second. A spare kernel is first told
    ``env`` and ``cwd``, which it was not started with."""
    try:
        imports()  # (Papermill among them: a fifth of a second the kernel's process no longer waits for)
        from jupyter_core.utils import run_sync

        info = _connection(kernel, timeout)
        kernel.client = _client_class()()
        kernel.client.load_connection_info(info)
        kernel.client.kernel = kernel
        kernel.client.allow_stdin = False
        kernel.client.start_channels(stdin=False, hb=False)  # (its life is its process's, asked directly)
        run_sync(_ready)(kernel, timeout)
        if kernel.spare:
            kernel.ask(session.enter, dict(env or {}), str(cwd))
        if single_use:
            kernel.ask(session.prepare)
            kernel.single_use = True
        else:
            kernel.ask(session.warm_up, as_cell=True)
            # The baseline is taken as the check after each section is: both outside a cell's run.
            kernel.ask(session.baseline, str(cwd))
            kernel.ask(session.clean)  # (the warm-up's names gone: ready for a section)
        kernel.ready = kernel.clean = True
        return kernel
    except BaseException:
        kernel.shutdown()
        raise


def start_kernel(cwd: Path, env: dict | None = None, started=None) -> Kernel:
    """A new kernel in ``cwd`` (its environment with ``env``), warmed up, its state recorded; its client is for the
    calling thread only. ``started(kernel)`` is told as soon as its process exists, and may refuse it (raise)."""
    kernel = spawn_kernel(cwd, env)
    if started is not None:
        try:
            started(kernel)
        except BaseException:
            kernel.shutdown()
            raise
    return warm_kernel(kernel, cwd)
