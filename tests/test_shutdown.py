"""Stopping (#21): Ctrl-C (SIGINT) or SIGTERM ends a build, a workspace build and a preview with every kernel ended,
the last good report kept and the output folder free for the next build; a second Ctrl-C ends it at once.

Each test waits for events (a section saying it runs, the process gone, a PID gone), never for time; how fast the
shutdown is, is measured by `make bench` (s and t, target ≤ 5 s).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from conftest import HANG, Lines, alive, children, run_cli, small_project, wait_until

SIGNALS = pytest.mark.parametrize("signals", [[signal.SIGINT], [signal.SIGTERM], [signal.SIGINT, signal.SIGINT]],
                                  ids=["ctrl-c", "sigterm", "ctrl-c twice"])


def _waiting(tmp_path: Path, count: int = 2, wait_for: str = "") -> tuple[Path, list[Path]]:
    """A project of ``count`` sections that each say when they run, then wait for ``wait_for`` (never, if it is
    never written; nothing, if empty)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    started = [tmp_path / f"started-{i}" for i in range(1, count + 1)]
    root = small_project(tmp_path, [(f"第{i}节", "relay.ipynb", {"started": str(marker), "wait_for": wait_for})
                                    for i, marker in enumerate(started, 1)])
    return root, started


def _wait_forever(config: Path, never: Path) -> None:
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('"wait_for": ""', f'"wait_for": {json.dumps(str(never))}'), encoding="utf-8")


def _stop(process: subprocess.Popen, signals: list[int], started: list[Path]) -> set[int]:
    """Once every section runs, send ``signals``; the kernels' process ids, once the process has ended."""
    wait_until(lambda: all(m.exists() for m in started) or process.poll() is not None, "every section runs")
    assert process.poll() is None, "it ended before its sections ran"
    kernels = {int(m.read_text()) for m in started}
    for signum in signals:
        process.send_signal(signum)
    process.wait(timeout=HANG)
    return kernels


@SIGNALS
def test_a_build_stops_its_kernels_and_keeps_the_last_report(tmp_path, signals):
    root, started = _waiting(tmp_path)
    assert run_cli("build", "--format", "html", cwd=root).returncode == 0  # the last good report
    good = (root / "outputs" / "2021" / "report.html").read_bytes()
    _wait_forever(root / "report.yml", tmp_path / "never")
    for marker in started:
        marker.unlink()
    process = subprocess.Popen([sys.executable, "-m", "annual_review", "build", "--jobs", "2", "--format", "html"],
                               cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    kernels = _stop(process, signals, started)
    assert process.returncode in (130, 128 + signals[-1])
    wait_until(lambda: not any(alive(pid) for pid in kernels), "every kernel has ended")
    year = root / "outputs" / "2021"
    assert (year / "report.html").read_bytes() == good
    if len(signals) == 1:  # a clean shutdown tidies its staging folder (after a second Ctrl-C, the next build does)
        assert not [p.name for p in year.iterdir() if p.name.startswith(".staging")]
    (tmp_path / "never").write_text("", encoding="utf-8")  # the sections now finish at once
    again = run_cli("build", "--format", "html", cwd=root)
    assert again.returncode == 0, again.stderr  # the output folder's lock was let go
    assert not [p.name for p in year.iterdir() if p.name.startswith(".staging")]


@SIGNALS
def test_a_workspace_build_stops_every_bodys_kernels(tmp_path, signals):
    markers = []
    for body in ("甲局", "乙局"):
        _, started = _waiting(tmp_path / body, count=1, wait_for=str(tmp_path / "never"))
        markers += started
    (tmp_path / "workspace.yml").write_text("bodies:\n  - 甲局\n  - 乙局\n", encoding="utf-8")
    process = subprocess.Popen([sys.executable, "-m", "annual_review", "build", "--workspace", "workspace.yml",
                                "--jobs", "2", "--format", "html", "--output-dir", "out"], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    kernels = _stop(process, signals, markers)
    assert process.returncode in (130, 128 + signals[-1])
    wait_until(lambda: not any(alive(pid) for pid in kernels), "every kernel has ended")
    assert not list((tmp_path / "out").glob("*/2021/report.html"))  # nothing half-built was published


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_preview_stops_its_watcher_its_server_and_every_kernel(tmp_path, signum):
    root, _ = _waiting(tmp_path, count=1)
    process = subprocess.Popen([sys.executable, "-m", "annual_review", "preview", "--port", "0", "--jobs", "1"],
                               cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    lines = Lines(process.stdout)
    url = lines.wait_for(r"Preview of .*: (http://\S+/)").group(1)
    lines.wait_for(r"Preview updated")
    kernels = children(process.pid)
    assert kernels, "the preview keeps warm kernels"
    process.send_signal(signum)
    assert process.wait(timeout=HANG) == 0
    lines.wait_for(r"Preview stopped")
    wait_until(lambda: not any(alive(pid) for pid in kernels), "every kernel has ended")
    with pytest.raises(OSError):
        urllib.request.urlopen(url, timeout=5)


def _kernels_in(folder: Path) -> list[int]:
    """Running kernels (of any build) whose working folder is ``folder``."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if "annual_review.kernel.launch" in (proc / "cmdline").read_bytes().decode(errors="replace") \
                    and Path(proc / "cwd").resolve() == folder.resolve() and alive(int(proc.name)):
                found.append(int(proc.name))
        except (OSError, ValueError):
            continue
    return found


def test_a_build_with_nothing_to_run_leaves_no_kernel(tmp_path):
    # A build starts its first kernel as the command starts, before it knows whether any section will run; when none
    # does (nothing changed), or the command stops on an error, that kernel is ended before the command returns.
    root = small_project(tmp_path, [("甲", "narrative.ipynb", {})])
    assert run_cli("build", "--format", "html", cwd=root).returncode == 0
    again = run_cli("build", "--format", "html", cwd=root)
    assert again.returncode == 0 and "up to date" in again.stdout
    assert _kernels_in(root) == []
    refused = run_cli("build", "--format", "html", "--year", "1999", cwd=root)
    assert refused.returncode != 0
    assert _kernels_in(root) == []
