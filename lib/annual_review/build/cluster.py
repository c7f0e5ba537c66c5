"""Building on a Dask cluster: every worker keeps warm kernels; a workspace sends each body-year as one task.

A workspace build (:mod:`annual_review.apps.workspace`) sends a whole body-year as one
task (:mod:`.remote`): its inputs (config, notebooks, the table declarations and its year
folders up to the report year, packed once and content-addressed, unpacked once per worker
and kept while under a size cap) and its output folder as it stands; the worker checks the
data, decides which sections' earlier results stand, runs the others on its warm kernels,
renders and checks for personal data — the same ``build_year`` as on one machine — and sends
the output folder back, which the client publishes. The client's share is packing and
publishing, so one client keeps many workers busy. Workers need no shared file system.

``ClusterExecutor`` is also a :class:`~annual_review.build.engine.SectionRunner`: ``submit``
runs one section as a task, on the same kernels, for a build planned on the client.

Each worker's kernels are held by a :class:`WarmKernels` plugin — started when the worker
starts, shut down when it stops — with the same namespace reset, time limit and isolation
checks as the local pool. A worker that dies mid-task has its task run again elsewhere
(Dask's retries); its kernels end with it (a kernel stops when its parent process does),
and its folder is removed when a worker starts again on that machine.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import io
import os
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
        # (a file outside the inputs sent keeps its worker's path: no check of the client's saw it)
        unchecked = {_relative(path, data) or path: digest for path, digest in outcome.unchecked.items()}
        executed = target.read_bytes() if target.is_file() else None
        return replace(outcome, reads=reads, stamps={}, unchecked=unchecked, executed=executed)
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


def build_body_year(job):
    """On a worker: a whole body-year (:mod:`.remote`), on this worker's warm kernels, from inputs unpacked once."""
    import uuid

    from distributed import get_worker

    from .remote import build_here

    plugin = get_worker().plugins[PLUGIN]
    root = plugin.data(job.inputs, job.digest)
    work = plugin.folder / "builds" / uuid.uuid4().hex
    try:
        work.mkdir(parents=True)
        return build_here(job, root, work, plugin.pool)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        plugin.done(job.digest)


class ClusterExecutor:
    """A Dask cluster for body-years (:meth:`build`) and sections (:meth:`submit`): ``tcp://host:8786``, or ``local``
    to start a scheduler and two workers here, each a process of its own."""

    def __init__(self, scheduler: str, *, log=print, workers: int = 2):
        try:
            from distributed import Client
        except ImportError:
            from ..core.exceptions import BuildError

            raise BuildError("--scheduler needs Dask: pip install -e '.[cluster]'") from None
        self.log = log
        self.cluster = None
        if scheduler == "local":
            # The scheduler and the workers in processes of their own (a LocalCluster runs the scheduler and the
            # workers' nannies inside this one, whose CPU is the client's: it is what a province's build waits on).
            from distributed.deploy.subprocess import SubprocessCluster

            try:
                self.cluster = SubprocessCluster(host="127.0.0.1", n_workers=workers, threads_per_worker=1,
                                                 dashboard_address=None)
            except RuntimeError:  # Windows, where Dask has no subprocess cluster: the scheduler runs in this one
                from distributed import LocalCluster

                self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                            dashboard_address=None)
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
        """Cancel the tasks not yet done, and let go of the cluster (one started here is shut down)."""
        with self._lock:
            self._closed = True
            pending = list(self._pending)
        for future in pending:
            future.cancel()
        try:
            if self.cluster is not None:  # ours: its workers' kernels and folders go before its processes are ended
                self.client.unregister_worker_plugin(PLUGIN)
        except Exception:  # noqa: BLE001 - workers already gone; their folders go when the next worker starts
            pass
        finally:
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
            result.set_result(replace(outcome, executed=None, reads=tuple(str(data_dir / rel) for rel in outcome.reads),
                                      unchecked={os.path.realpath(data_dir / rel): digest
                                                 for rel, digest in outcome.unchecked.items()}))
        except BaseException as exc:  # noqa: BLE001 - a task that could not run at all (workers gone, cancelled, …)
            if not result.done():
                result.set_result(SectionOutcome("broken", error=f"the cluster could not run it: {type(exc).__name__}: "
                                                                 f"{exc}", traceback=_traceback(exc)))

    def build(self, job):
        """A whole body-year (:class:`.remote.BodyYear`) as one task; what the worker built (:class:`.remote.Built`)."""
        from ..core.exceptions import BuildError

        with self._lock:
            if self._closed:
                raise BuildError("the cluster was closed before this body-year was sent")
            task = self.client.submit(build_body_year, job, pure=False, retries=2)
            self._pending.add(task)
        try:
            return task.result()
        except Exception as exc:  # noqa: BLE001 - it could not run at all (workers gone, cancelled, …): said, with why
            raise BuildError(f"the cluster could not build it: {type(exc).__name__}: {exc}") from exc
        finally:
            with self._lock:
                self._pending.discard(task)


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
