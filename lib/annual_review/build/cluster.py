"""Building on a Dask cluster: each section run and each report render is a task; every worker keeps warm kernels.

``ClusterExecutor`` stands in for the local pool of warm kernels: the build plans,
checks data and keeps its cache and manifests on the client as always, and sends
the work out. A section's task carries its notebook, its parameters and the bytes of
every input it may read (the body's table declarations and its year folders up to the
report year, a few hundred KB, unpacked once per worker and kept while under a size cap); it returns the
executed notebook and the files it read, which the client fingerprints for its cache.
Workers need no shared file system. Each worker runs the sections on warm kernels
held by a :class:`WarmKernels` plugin — started when the worker starts, shut down when
it stops — with the same namespace reset, time limit and isolation checks as the local
pool. Rendering (HTML, PDF, Word, the personal-data checks) is a task too. A worker
that dies mid-task has its tasks run again elsewhere (Dask's retries); its kernels
end with it (a kernel stops when its parent process does).
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import io
import shutil
import tempfile
import threading
import time
import zipfile
from dataclasses import replace
from pathlib import Path

from ..core.paths import TABLES_FILE, stamp
from .engine import KernelPool, SectionJob, SectionOutcome

PLUGIN = "annual-review-kernels"

try:
    from distributed import WorkerPlugin
except ImportError:  # Dask is an optional extra: `pip install -e '.[cluster]'`
    WorkerPlugin = object


FOLDER_PREFIX = "annual-review-worker-"
CACHE_BYTES = 512 * 1024**2  # the inputs a worker keeps unpacked between tasks (least recently used go first)


class WarmKernels(WorkerPlugin):
    """A worker's warm kernels, one per worker thread, started with the worker and shut down with it; and the inputs
    tasks brought, unpacked once and kept while they fit under :data:`CACHE_BYTES`."""

    name = PLUGIN

    def __init__(self):  # (sent to each worker: nothing here that cannot be pickled)
        self.pool = None
        self.folder: Path | None = None

    def setup(self, worker):
        import os
        from collections import OrderedDict

        self._extracting = threading.Lock()
        self._unpacked: OrderedDict[str, int] = OrderedDict()  # digest → bytes on disk, least recently used first
        self._in_use: dict[str, int] = {}  # digest → tasks using it now (never removed under them)
        _remove_orphans(Path(tempfile.gettempdir()))  # a worker that died left its folder: gone when one restarts
        self.folder = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-"))
        size = getattr(getattr(worker, "state", None), "nthreads", None) or getattr(worker, "nthreads", 1) or 1
        self.pool = KernelPool(size, self.folder).start()  # (the worker handles its own signals)

    def teardown(self, worker):
        if self.pool is not None:
            self.pool.close()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)

    def data(self, archive: bytes, digest: str) -> Path:
        """The inputs a client sent, unpacked once per body and year on this worker (until :meth:`done` with them
        and pushed out of the cache)."""
        root = self.folder / "data" / digest
        with self._extracting:
            if not root.is_dir():
                root.parent.mkdir(parents=True, exist_ok=True)
                staging = Path(tempfile.mkdtemp(dir=self.folder))
                with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
                    bundle.extractall(staging)
                staging.rename(root)
                self._unpacked[digest] = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
            self._unpacked.move_to_end(digest)
            self._in_use[digest] = self._in_use.get(digest, 0) + 1
        return root

    def done(self, digest: str) -> None:
        """A task is done with its inputs: the least recently used ones no task is using go while over the cap."""
        with self._extracting:
            self._in_use[digest] -= 1
            if not self._in_use[digest]:
                del self._in_use[digest]
            while sum(self._unpacked.values()) > CACHE_BYTES:
                idle = next((d for d in self._unpacked if d not in self._in_use), None)
                if idle is None:
                    break
                del self._unpacked[idle]
                shutil.rmtree(self.folder / "data" / idle, ignore_errors=True)


def _remove_orphans(temp: Path) -> None:
    """The folders of workers whose process is gone (a worker killed: its teardown never ran)."""
    import os

    for folder in temp.glob(f"{FOLDER_PREFIX}*"):
        pid = folder.name[len(FOLDER_PREFIX):].split("-", 1)[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except PermissionError:
            continue  # another user's worker, alive


def run_section(job: SectionJob, notebook: bytes, archive: bytes, digest: str) -> SectionOutcome:
    """On a worker: run one section on a warm kernel; its outcome, with the executed notebook's bytes and the files
    it read (relative to the inputs sent)."""
    import uuid

    from distributed import get_worker

    plugin = get_worker().plugins[PLUGIN]
    data = plugin.data(archive, digest)
    work = plugin.folder / "runs" / uuid.uuid4().hex
    try:
        work.mkdir(parents=True)
        source, target = work / job.notebook.name, work / f"executed-{job.notebook.name}"
        source.write_bytes(notebook)
        here = replace(job, notebook=source, target=target, parameters={**job.parameters, "data_dir": str(data)},
                       cwd=str(plugin.folder))  # (never the run folder, which goes when the run ends)
        outcome = plugin.pool.run(here)
        reads = tuple(r for r in (_relative(path, data) for path in outcome.reads) if r)
        executed = target.read_bytes() if target.is_file() else None
        return replace(outcome, reads=reads, stamps={}, executed=executed)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        plugin.done(digest)


def _has_plugin(dask_worker) -> bool:
    return PLUGIN in dask_worker.plugins


def _relative(path: str, root: Path) -> str | None:
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None  # outside the inputs sent: not a data file


def render(job):
    """On a worker: the report in each format (see :func:`annual_review.build.publish.render_outputs`)."""
    from .publish import render_outputs

    return render_outputs(job)


class ClusterExecutor:
    """Sends a build's sections and renders to a Dask cluster: ``tcp://host:8786``, or ``local`` for a LocalCluster."""

    def __init__(self, scheduler: str, *, log=print, workers: int = 2):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            from ..core.exceptions import BuildError

            raise BuildError("--scheduler needs Dask: pip install -e '.[cluster]'") from None
        self.log = log
        self.cluster = None
        if scheduler == "local":
            self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
            self.client = Client(self.cluster)
        else:
            self.client = _connect(Client, scheduler)
            if self.client.dashboard_link:
                log(f"Dask dashboard: {self.client.dashboard_link}")
        self._warm_workers()
        from collections import OrderedDict

        # The inputs of the body-years being built, packed once each; the least recently used go when more are
        # packed than can be in flight, so the client's memory stays flat however many bodies a workspace has.
        self._archives: OrderedDict[tuple, tuple] = OrderedDict()
        self._keep = 2 * self.threads + 2
        self._lock = threading.Lock()
        self._pending: set = set()  # tasks submitted and not yet arrived: cancelled on close
        self._closed = False

    def _warm_workers(self) -> None:
        """Give every worker (and every worker that joins later) its warm kernels, once: workers keep them between builds."""
        try:
            present = self.client.run(_has_plugin)
        except Exception:  # noqa: BLE001 - a worker going away while asked: register, and the scheduler tells the rest
            present = {}
        if present and all(present.values()):
            return
        for attempt in range(3):
            try:
                self.client.register_plugin(WarmKernels())
                return
            except OSError:  # a worker that died while being set up; the others, and its replacement, get the plugin
                if attempt == 2:
                    raise
                time.sleep(1)

    @property
    def threads(self) -> int:
        return max(1, sum(self.client.nthreads().values()))

    # --- the SectionRunner contract ---------------------------------------------------------------

    def __enter__(self) -> "ClusterExecutor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> "ClusterExecutor":
        return self  # the workers' kernels are warm already

    def close(self) -> None:
        """Cancel the tasks not yet done, and let go of the cluster (a LocalCluster is shut down)."""
        with self._lock:
            self._closed = True
            pending = list(self._pending)
        for future in pending:
            future.cancel()
        try:
            self.client.close(timeout=5)
        finally:
            if self.cluster is not None:
                self.cluster.close(timeout=5)

    def _archive(self, data_dir: Path, year: int):
        """The body's inputs up to ``year``, packed once per body and year (its sections share the bytes)."""
        files = [data_dir / TABLES_FILE] + sorted(
            p for folder in data_dir.iterdir() if folder.is_dir() and folder.name.isdigit() and int(folder.name) <= year
            for p in folder.rglob("*") if p.is_file())
        state = tuple(map(stamp, files))
        key = (str(data_dir), year)
        with self._lock:
            known = self._archives.get(key)
            if known and known[0] == state:
                self._archives.move_to_end(key)
                return known[1], known[2]
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
                for path in files:
                    if path.exists():
                        bundle.write(path, path.relative_to(data_dir).as_posix())
            archive = buffer.getvalue()
            digest = hashlib.sha256(archive).hexdigest()[:24]
            # Carried in each task itself (not scattered to one worker, whose death would lose it): a few hundred KB,
            # unpacked once per worker.
            self._archives[key] = (state, archive, digest)
            self._archives.move_to_end(key)
            while len(self._archives) > self._keep:
                self._archives.popitem(last=False)
            return archive, digest

    def submit(self, job: SectionJob) -> concurrent.futures.Future:
        """A section as a task; a concurrent Future of its :class:`SectionOutcome`, as the local pool gives."""
        result: concurrent.futures.Future = concurrent.futures.Future()
        with self._lock:
            if self._closed:
                result.cancel()
                return result
        data_dir = Path(job.parameters["data_dir"])
        archive, digest = self._archive(data_dir, int(job.parameters["year"]))
        task = self.client.submit(run_section, job, job.notebook.read_bytes(), archive, digest, pure=False, retries=2)
        result.set_running_or_notify_cancel()
        with self._lock:
            self._pending.add(task)
        task.add_done_callback(lambda done: self._arrived(done, result, job.target, data_dir))
        return result

    def _arrived(self, task, result, target: Path, data_dir: Path) -> None:
        with self._lock:
            self._pending.discard(task)
        try:
            outcome = task.result()
            if outcome.executed is not None:
                target.write_bytes(outcome.executed)
            result.set_result(replace(outcome, executed=None, reads=tuple(str(data_dir / rel) for rel in outcome.reads)))
        except BaseException as exc:  # noqa: BLE001 - a task that could not run at all (workers gone, cancelled, …)
            if not result.done():
                result.set_result(SectionOutcome("broken", error=f"the cluster could not run it: {type(exc).__name__}: "
                                                                 f"{exc}", traceback=_traceback(exc)))

    def render(self, job):
        """Render on the cluster: PDF and Word are the costliest steps of a build."""
        from dataclasses import replace

        return self.client.submit(render, replace(job, cache_dir=None, base=None), pure=False, retries=2).result()


CONNECT_SECONDS = 5  # an unreachable scheduler is said after this long, not after Dask's minute of retries


def _connect(client_class, scheduler: str):
    """A client of ``scheduler``; a plain BuildError, within seconds, when nothing answers there."""
    from ..core.exceptions import BuildError

    try:
        return client_class(scheduler, timeout=CONNECT_SECONDS)
    except (OSError, TimeoutError, ValueError) as exc:  # refused, unreachable, no such host, not an address
        raise BuildError(f"--scheduler {scheduler}: no Dask scheduler answered within {CONNECT_SECONDS} s "
                         f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); start one (dask scheduler) or "
                         "check the address, or build on this machine (leave out --scheduler)") from None


def _traceback(exc: BaseException) -> str:
    import traceback

    return "".join(traceback.format_exception(exc))
