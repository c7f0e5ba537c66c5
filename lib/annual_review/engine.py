"""Warm kernels: started ahead, the costly imports paid once, reused section after section.

Between two sections a kernel's user namespace, figures and plotting settings are
reset, so a section never sees another's variables; modules already imported stay
loaded, which is where the time goes. Kernels are always shut down, on success,
failure, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import functools
import json
import queue
import signal
import threading
from dataclasses import dataclass
from pathlib import Path

KERNEL_NAME = "python3"
KERNEL_ARGS = ["--Application.log_level=ERROR"]  # keep the kernel's start-up notices off the console
# What every section pays for, paid once per kernel.
WARM_UP = "import annual_review.charts, annual_review.data, annual_review.elements, pandas, pandera.pandas, matplotlib.pyplot, IPython.display"
RESET = """\
get_ipython().run_line_magic("reset", "-f")
import os as _os, matplotlib as _mpl, matplotlib.pyplot as _plt, annual_review.tracking as _tracking
_plt.close("all")
_mpl.rcdefaults()
_tracking.clear()
_os.chdir({cwd!r})
del _os, _mpl, _plt, _tracking
"""
READS = "__import__('annual_review.tracking', fromlist=['reads']).reads()"


class KernelError(RuntimeError):
    pass


@dataclass
class Kernel:
    manager: object
    client: object

    def run(self, code: str, *, expressions: dict[str, str] | None = None, timeout: float = 120) -> dict:
        reply = self.client.execute_interactive(
            code, user_expressions=expressions or {}, timeout=timeout, output_hook=lambda msg: None
        )
        content = reply["content"]
        if content.get("status") != "ok":
            raise KernelError(f"{content.get('ename')}: {content.get('evalue')}")
        return content.get("user_expressions", {})

    def shutdown(self) -> None:
        try:
            self.client.stop_channels()
        finally:
            self.manager.shutdown_kernel(now=True)


def _start(cwd: Path) -> Kernel:
    from jupyter_client.manager import KernelManager

    manager = KernelManager(kernel_name=KERNEL_NAME)
    manager.start_kernel(extra_arguments=KERNEL_ARGS, cwd=str(cwd))
    try:
        client = manager.blocking_client()
        client.allow_stdin = False
        client.start_channels()
        client.wait_for_ready(timeout=60)
        kernel = Kernel(manager, client)
        kernel.run(WARM_UP)
        return kernel
    except BaseException:
        manager.shutdown_kernel(now=True)
        raise


_ENGINE = "annual-review-warm"


@functools.cache  # once per process: the engine class is made and registered a single time
def _register_engine() -> None:
    """A Papermill engine that runs a notebook through the warm kernel's own, already connected client.

    Papermill's default engine opens a new client per notebook (channels, a readiness
    handshake) even when handed a running kernel; this one reuses the pool's.
    """
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines

    class WarmEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,
                                     stderr_file=None, start_timeout=60, execution_timeout=None, **kwargs):
            kc = kwargs.pop("kc")
            kwargs.pop("input_path", None)
            client = PapermillNotebookClient(nb_man, kernel_name=kernel_name, timeout=execution_timeout,
                                             startup_timeout=start_timeout, log_output=log_output,
                                             stdout_file=stdout_file, stderr_file=stderr_file, **kwargs)
            client.kc = kc  # nbclient then uses it, and leaves it open, as the kernel is not its own
            return client.execute()

    papermill_engines.register(_ENGINE, WarmEngine)  # idempotent: a name maps to one engine


class KernelPool:
    """``size`` warm kernels, started in the background; use as a context manager so they are always shut down.

    Kernels start as soon as the pool is entered, while the caller gets on with other
    work (checking data); :meth:`execute` waits for the first idle one.
    """

    def __init__(self, size: int, cwd: Path):
        self.size, self.cwd = max(1, size), cwd
        self._idle: queue.Queue[Kernel | BaseException] = queue.Queue()
        self._all: list[Kernel] = []
        self._lock = threading.Lock()
        self._starters: list[threading.Thread] = []
        self._closed = False
        self._previous_sigterm = None

    def _start_one(self) -> None:
        try:
            kernel = _start(self.cwd)
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits for a kernel
            self._idle.put(KernelError(f"a kernel could not start: {exc}"))
            return
        with self._lock:
            if self._closed:  # the build ended while this kernel was starting
                kernel.shutdown()
                return
            self._all.append(kernel)
        self._idle.put(kernel)

    def __enter__(self) -> "KernelPool":
        if threading.current_thread() is threading.main_thread():
            # A kill (SIGTERM) unwinds like Ctrl-C, so the kernels are shut down.
            self._previous_sigterm = signal.signal(signal.SIGTERM, _raise_interrupt)
        self._starters = [threading.Thread(target=self._start_one, daemon=True) for _ in range(self.size)]
        for thread in self._starters:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        with self._lock:
            self._closed = True
            kernels, self._all = list(self._all), []
        for kernel in kernels:
            try:
                kernel.shutdown()
            except Exception:  # noqa: BLE001 - shut down every kernel whatever one of them does
                pass
        for thread in self._starters:  # a kernel still starting shuts itself down when it is ready
            thread.join(timeout=90)
        if self._previous_sigterm is not None:
            signal.signal(signal.SIGTERM, self._previous_sigterm)

    def _acquire(self) -> Kernel:
        kernel = self._idle.get()
        if isinstance(kernel, BaseException):
            self._idle.put(kernel)  # every waiter learns of it
            raise kernel
        return kernel

    def execute(self, notebook: Path, target: Path, parameters: dict) -> list[str]:
        """Run ``notebook`` with Papermill on an idle warm kernel into ``target``; return the files it read.

        Raises papermill's PapermillExecutionError (after saving ``target``) if a cell fails.
        """
        import papermill

        _register_engine()
        kernel = self._acquire()
        try:
            kernel.run(RESET.format(cwd=str(self.cwd)))
            papermill.execute_notebook(
                str(notebook),
                str(target),
                parameters=parameters,
                engine_name=_ENGINE,
                km=kernel.manager,
                kc=kernel.client,
                kernel_name=KERNEL_NAME,
                progress_bar=False,
                log_output=False,
                request_save_on_cell_execute=False,
            )
            reads = kernel.run("", expressions={"reads": READS})["reads"]
            return json.loads(_literal(reads))
        finally:
            self._idle.put(kernel)


def _literal(expression_result: dict) -> str:
    """A user-expression result (a repr of a list of str) as JSON."""
    import ast

    return json.dumps(ast.literal_eval(expression_result["data"]["text/plain"]))


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt
