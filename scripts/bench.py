"""Benchmark the build against the common practice and against the floor; print times and ratios.

    python scripts/bench.py [--runs N]      (or: make bench)

On a temporary copy of the shipped project, it times (median of N runs):
  a  the common practice: `papermill` then `jupyter nbconvert --to html --no-input`, notebook by notebook;
  b  the floor: every section's code run in one Python process (one kernel), plus one HTML export;
  c  `annual-review build --format html` from cold (empty output folder);
  d  the same build again with nothing changed;
  e  a rebuild after one section's data file changed;
with `annual-review preview` running on the 2020 report (median of at least 5 edits each):
  p  from saving a narrative file to the page containing the new text, as a reader with the page open sees it (the
     page reloads itself when the preview's /events says a new version is served);
  q  the same after appending a row to a register and its headline figure;
and, stopping a build while its sections run (median of N):
  s  from Ctrl-C (SIGINT) to the build's exit, every kernel ended;
  t  the same for SIGTERM;
and writes the times and the ratios c/a, c/b, d/c, e/c, p/c (and d/b, e/b, p/b: against the floor) to
outputs/bench.json. A ratio of two times taken in
each run (all but p/c and p/b) is the median of the runs' own ratios.
"""

from __future__ import annotations

import argparse
import json
import signal
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TARGETS = {"c/a": 0.25, "c/b": 1.2, "d/c": 0.1, "e/c": 0.35, "p/c": 0.15}  # c/b, q: issue #24
PREVIEW_TARGETS = {"p": 1.0, "q": 1.0, "s": 5.0, "t": 5.0}
FLOOR_RATIOS = ("c/b", "d/b", "e/b", "p/b")  # no target: printed beside the others


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def sections(project: Path) -> list[tuple[Path, dict]]:
    """The 2020 outline's notebooks, each with the parameters the config gives it."""
    sys.path.insert(0, str(REPO / "lib"))
    from annual_review.core.config import load_config

    config = load_config(project / "report.yml").for_year({"licence_decisions"})  # the 2020 outline
    return [(s.notebook, dict(s.parameters)) for s in config.executable_sections()]


def common_practice(project: Path) -> float:
    out = project / "cli-out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    started = time.perf_counter()
    for notebook, _ in sections(project):
        executed = out / notebook.name
        subprocess.run([str(BIN / "papermill"), str(notebook), str(executed), "-p", "year", "2020",
                        "-p", "data_dir", str(project / "data"), "--cwd", str(notebook.parent)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run([str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input", str(executed)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


FLOOR = '''
import json, sys, nbformat
from pathlib import Path
from nbclient import NotebookClient
from nbconvert.exporters import HTMLExporter
spec, out = json.loads(Path(sys.argv[1]).read_text()), sys.argv[2]
cells = []
for path, parameters in spec["sections"]:
    nb = nbformat.read(path, as_version=4)
    # Each section's own parameters cell, then its values for this build (as Papermill injects them).
    values = {"year": 2020, "data_dir": spec["data_dir"], **parameters}
    for cell in (c for c in nb.cells if c.cell_type == "code"):
        cells.append(cell)
        if "parameters" in cell.metadata.get("tags", []):
            cells.append(nbformat.v4.new_code_cell("\\n".join(f"{k} = {v!r}" for k, v in values.items())))
merged = nbformat.v4.new_notebook(cells=cells, metadata=nb.metadata)
NotebookClient(merged, kernel_name="python3", resources={"metadata": {"path": str(Path(spec["sections"][0][0]).parent)}},
               shutdown_kernel="immediate").execute()
body, _ = HTMLExporter(exclude_input=True).from_notebook_node(merged)
open(out, "w", encoding="utf-8").write(body)
'''


def floor(project: Path) -> float:
    script, spec = project / "floor.py", project / "floor.json"
    script.write_text(FLOOR, encoding="utf-8")
    spec.write_text(json.dumps({"data_dir": str(project / "data"),
                                "sections": [(str(n), p) for n, p in sections(project)]}), encoding="utf-8")
    return timed([sys.executable, str(script), str(spec), str(project / "floor.html")], project)


def build(project: Path, *args: str) -> float:
    # HTML only, the output (a) and (b) make too.
    return timed([str(BIN / "annual-review"), "build", "--year", "2020", "--format", "html", *args], project)


def served_text(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode("utf-8")


class Reloads:
    """The preview's /events stream, heard as the open page hears it: each new version is a reload."""

    def __init__(self, base: str):
        import threading
        import urllib.request

        self.versions: list[int] = []
        self.changed = threading.Condition()
        self.stream = urllib.request.urlopen(base + "events", timeout=120)
        threading.Thread(target=self._listen, daemon=True).start()

    def _listen(self) -> None:
        for raw in self.stream:
            line = raw.decode("utf-8").strip()
            if line.startswith("data:"):
                with self.changed:
                    self.versions.append(json.loads(line[5:])["version"])
                    self.changed.notify_all()

    def until_shown(self, page: str, text: str, started: float, seen: int, timeout: float = 60) -> float:
        """Seconds from ``started`` until the page, reloaded at each version after the ``seen`` first ones, holds
        ``text`` — what a reader with the page open waits for (the page reloads itself on each version)."""
        while time.perf_counter() - started < timeout:
            with self.changed:
                self.changed.wait_for(lambda: len(self.versions) > seen, timeout=max(0.0, timeout - (time.perf_counter() - started)))
                if len(self.versions) <= seen:
                    break
                seen = len(self.versions)
            if text in served_text(page):
                return time.perf_counter() - started
        raise RuntimeError(f"the preview never showed {text!r}")


def preview_edits(project: Path, edits: int) -> tuple[list[float], list[float]]:
    """(p, q): narrative edits, then register rows with their headline figure, each timed until served."""
    import re

    process = subprocess.Popen([str(BIN / "annual-review"), "preview", "--year", "2020", "--port", "0"], cwd=project,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    try:
        url = None
        for line in process.stdout:
            found = re.search(r"(http://\S+/)", line)
            url = url or (found.group(1) if found else None)
            if "Preview updated" in line:
                break
        page = url + "2020/report.html"
        time.sleep(1.0)  # let the watcher settle
        reloads = Reloads(url)
        narrative = project / "data" / "2020" / "narrative" / "opening.md"
        p_times, q_times = [], []
        for i in range(edits):
            marker = f"基准测试第{i}句。"
            seen, started = len(reloads.versions), time.perf_counter()
            narrative.write_text(narrative.read_text(encoding="utf-8") + f"\n{marker}\n", encoding="utf-8")
            p_times.append(reloads.until_shown(page, marker, started, seen))
            time.sleep(0.3)
        loans = project / "data" / "2020" / "student_loans.csv"
        figures = project / "data" / "2020" / "key_figures.csv"
        for i in range(edits):
            count = 425 + i
            seen, started = len(reloads.versions), time.perf_counter()
            loans.write_text(loans.read_text(encoding="utf-8") + f"BENCH-{i},2020-09-0{1 + i % 9},本科,8000\n", encoding="utf-8")
            figures.write_text(figures.read_text(encoding="utf-8").replace(f"助学贷款办理人数,{count - 1},", f"助学贷款办理人数,{count},"),
                               encoding="utf-8")
            q_times.append(reloads.until_shown(page, f"为{count}", started, seen))
            time.sleep(0.3)
        return p_times, q_times
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


def _kernels(pid: int) -> set[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return {int(p) for p in out.split()}


def stopped(project: Path, signum: int) -> float:
    """Seconds from ``signum`` to the build's exit with no kernel left, sent once its first section has finished."""
    process = subprocess.Popen([str(BIN / "annual-review"), "build", "--force", "--format", "html"], cwd=project,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in process.stdout:
        if line.startswith("[1/"):
            break
    kernels = _kernels(process.pid)
    started = time.monotonic()
    process.send_signal(signum)
    process.wait()
    while any(Path(f"/proc/{pid}").exists() for pid in kernels):
        time.sleep(0.01)
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement; the median is kept (default 3)")
    parser.add_argument("--edits", type=int, default=5, help="preview edits per kind; the median is kept (default 5)")
    args = parser.parse_args()
    runs: dict[str, list[float]] = {k: [] for k in "abcde"}
    with tempfile.TemporaryDirectory(prefix="annual-review-bench-") as tmp:
        project = Path(tmp)
        for part in ("notebooks", "data"):
            shutil.copytree(REPO / part, project / part)
        shutil.copy(REPO / "report.yml", project / "report.yml")
        loans = project / "data" / "2020" / "student_loans.csv"
        original = loans.read_text(encoding="utf-8")
        for i in range(args.runs):
            runs["a"].append(common_practice(project))
            runs["b"].append(floor(project))
            shutil.rmtree(project / "outputs", ignore_errors=True)
            runs["c"].append(build(project))
            runs["d"].append(build(project))
            # One section's data file changes (an amount in the loan register: only section (五) reads it).
            rows = original.splitlines()
            rows[1 + i] = rows[1 + i].rsplit(",", 1)[0] + f",{5000 + i}"
            loans.write_text("\n".join(rows) + "\n", encoding="utf-8")
            runs["e"].append(build(project))
            loans.write_text(original, encoding="utf-8")
            print(f"run {i + 1}: " + "  ".join(f"{k} {v[-1]:.2f}s" for k, v in runs.items())
                  + f"  (c/b {runs['c'][-1] / runs['b'][-1]:.3f})", flush=True)
        runs["s"] = [stopped(project, signal.SIGINT) for _ in range(args.runs)]
        runs["t"] = [stopped(project, signal.SIGTERM) for _ in range(args.runs)]
        print("stop: s " + " ".join(f"{t:.2f}" for t in runs["s"]) + "  t " + " ".join(f"{t:.2f}" for t in runs["t"]))
        shutil.rmtree(project / "outputs", ignore_errors=True)
        runs["p"], runs["q"] = preview_edits(project, max(5, args.edits))
        print("preview: p " + " ".join(f"{t:.2f}" for t in runs["p"]) + "  q " + " ".join(f"{t:.2f}" for t in runs["q"]))
    result = {k: round(statistics.median(v), 3) for k, v in runs.items()}
    for ratio in [*TARGETS, *FLOOR_RATIOS]:
        top, bottom = ratio.split("/")
        if len(runs[top]) == len(runs[bottom]) == args.runs:
            # Both timed in each run, one after the other: the ratio of each run, then their median. On a shared
            # machine whose speed drifts from minute to minute, a pair measured together compares like with like.
            result[ratio] = round(statistics.median(t / b for t, b in zip(runs[top], runs[bottom])), 3)
        else:
            result[ratio] = round(result[top] / result[bottom], 3)
    print()
    for key, label in zip("abcdepqst", ["common practice (papermill + nbconvert CLIs)", "floor (one process, one export)",
                                      "annual-review build, cold", "build again, nothing changed",
                                      "build after one data file changed", "preview: narrative saved → page shows it",
                                      "preview: register row and headline figure saved → page shows it",
                                      "Ctrl-C → build ended, no kernel left", "SIGTERM → build ended, no kernel left"]):
        print(f"  {key}  {result[key]:7.2f} s   {label}")
    for key, target in PREVIEW_TARGETS.items():
        print(f"  {key:4} {result[key]:6.3f}   target ≤ {target} s ({'meets' if result[key] <= target else 'misses'})")
    for ratio, target in TARGETS.items():
        verdict = "meets" if result[ratio] <= target else "misses"
        print(f"  {ratio:4} {result[ratio]:6.3f}   target ≤ {target} ({verdict})")
    print("  against the floor, which the toolkit's code does not move (d/c, e/c and p/c rise when c falls): "
          + ", ".join(f"{ratio} {result[ratio]:.3f}" for ratio in FLOOR_RATIOS))
    out = REPO / "outputs" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\nWritten: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
