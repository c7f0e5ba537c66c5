"""Building on a Dask cluster: each section run and each report render is a task; every worker keeps warm kernels.

``ClusterExecutor`` stands in for the local pool of warm kernels: the build plans,
checks data and keeps its cache and manifests on the client as always, and sends
the work out. A section's task carries its notebook, its parameters and the bytes of
every input it may read (the body's table declarations and its year folders up to the
report year, a few hundred KB, unpacked once per worker); it returns the
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


class WarmKernels(WorkerPlugin):
    """A worker's warm kernels, one per worker thread, started with the worker and shut down with it."""

    name = PLUGIN

    def __init__(self):  # (sent to each worker: nothing here that cannot be pickled)
        self.pool = None
        self.folder: Path | None = None

    def setup(self, worker):
        self._extracting = threading.Lock()
        self.folder = Path(tempfile.mkdtemp(prefix="annual-review-worker-"))
        size = getattr(getattr(worker, "state", None), "nthreads", None) or getattr(worker, "nthreads", 1) or 1
        self.pool = KernelPool(size, self.folder).start()  # (the worker handles its own signals)

    def teardown(self, worker):
        if self.pool is not None:
            self.pool.close()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)

    def data(self, archive: bytes, digest: str) -> Path:
        """The inputs a client sent, unpacked once per body and year on this worker."""
        root = self.folder / "data" / digest
        with self._extracting:
            if not root.is_dir():
                root.parent.mkdir(parents=True, exist_ok=True)
                staging = Path(tempfile.mkdtemp(dir=self.folder))
                with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
                    bundle.extractall(staging)
                staging.rename(root)
        return root


def run_section(job: SectionJob, notebook: bytes, archive: bytes, digest: str) -> SectionOutcome:
    """On a worker: run one section on a warm kernel; its outcome, with the executed notebook's bytes and the files
    it read (relative to the inputs sent)."""
    import uuid

    from distributed import get_worker

    plugin = get_worker().plugins[PLUGIN]
    data = plugin.data(archive, digest)
    work = plugin.folder / "runs" / uuid.uuid4().hex
    work.mkdir(parents=True)
    try:
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
            self.client = Client(scheduler, timeout=60)
        self._warm_workers()
        self._archives: dict[tuple, tuple] = {}
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


def _traceback(exc: BaseException) -> str:
    import traceback

    return "".join(traceback.format_exception(exc))
