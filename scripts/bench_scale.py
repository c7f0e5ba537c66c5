"""The cluster's orchestration at a province's scale, measured here: many bodies × 1 year of trivial sections.

    python scripts/bench_scale.py [--bodies 200]      (make bench-cluster runs it after bench_cluster.py)

It makes a SYNTHETIC workspace of N bodies (合成单位1…N, each the project `annual-review init` starts, its stubs
filled with placeholder words; not any body's figures) whose sections are trivial, so that what is measured is the
orchestration: packing, transfer, scheduling, the data checks and planning on the workers, publishing. It builds it
through `--scheduler local` (2 workers, 1 thread each, and the scheduler, each a process of its own) and, sampling
the client and the scheduler from /proc, prints:
  - the client's CPU per body-year while building (marginal: between the 50th body-year and the last, so start-up
    is not in it), then per body-year for what it does once at the end (the city's index and site) and over the
    whole run; the scheduler's CPU per task (one task a body-year);
  - the client's peak memory (RSS) by the 50th body-year and by the last;
and, from the real sections' costs `bench_cluster.py` measured (outputs/bench-cluster.json), a projection for
2,000 bodies × 1 year on 16, 64 and 256 worker cores against the ideal (total task time / cores + one body's
critical path), the client's end-of-run work included, saying which part limits it. It adds
client_cpu_per_body_year_s, client_cpu_at_end_per_body_year_s, scheduler_cpu_per_task_s, client_rss_mb_50,
client_rss_mb_<N>, projection_256_s and ideal_256_s to outputs/bench-cluster.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RESULTS = REPO / "outputs" / "bench-cluster.json"
TICKS = os.sysconf("SC_CLK_TCK")
MARK = 50  # the body-year at which the first sample is kept


def make_workspace(root: Path, bodies: int) -> list[str]:
    template = root / "template"
    subprocess.run([str(BIN / "annual-review"), "init", str(template), "--body", "合成单位", "--year", "2020"], check=True,
                   stdout=subprocess.DEVNULL)
    for path in template.rglob("*"):  # the stubs filled: a final build publishes only finished text
        if path.suffix in (".md", ".yml") and path.is_file():
            text = path.read_text(encoding="utf-8")
            path.write_text(re.sub(r"【待填写[^】]*】", "本部分为合成示例文字，并非任何单位的记录。", text), encoding="utf-8")
    names = [f"合成单位{k}" for k in range(1, bodies + 1)]
    for name in names:
        shutil.copytree(template, root / name, ignore=shutil.ignore_patterns("outputs"))
        config = root / name / "report.yml"
        config.write_text(config.read_text(encoding="utf-8").replace("body: 合成单位", f"body: {name}"), encoding="utf-8")
    shutil.rmtree(template)
    (root / "workspace.yml").write_text("bodies:\n" + "".join(f"  - {n}\n" for n in names), encoding="utf-8")
    return names


def _sample(pid: int) -> tuple[float, float]:
    """The process's CPU seconds (user + system) and resident memory in MB, now."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    rss = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
               if line.startswith("VmRSS:"))
    return (int(fields[11]) + int(fields[12])) / TICKS, rss / 1024


def _scheduler(pid: int) -> int | None:
    """The Dask scheduler `--scheduler local` started: a process of its own, under the client."""
    for child in Path(f"/proc/{pid}/task").glob("*/children"):
        for kid in child.read_text().split():
            try:
                if b"distributed.Scheduler" in Path(f"/proc/{kid}/cmdline").read_bytes():
                    return int(kid)
            except OSError:
                continue
    return None


def measure(root: Path, bodies: int) -> dict:
    """Build the workspace on `--scheduler local`, sampling the client and the scheduler: their CPU (and the client's
    peak RSS) at the MARK-th body-year, at the last, and when the client exits (the index and the site written)."""
    process = subprocess.Popen([str(BIN / "annual-review"), "build", "--workspace", str(root / "workspace.yml"), "--all",
                                "--format", "html", "--scheduler", "local", "--output-dir", str(root / "out")],
                               cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})  # each line as it is said: the marks
    state = {"peak": 0.0, "cpu": 0.0, "scheduler": 0.0, "marks": {}, "lines": []}
    lock = threading.Lock()

    def sample() -> None:
        scheduler = None
        while process.poll() is None:
            try:
                cpu, rss = _sample(process.pid)
                scheduler = scheduler or _scheduler(process.pid)
                busy = _sample(scheduler)[0] if scheduler else 0.0
            except (OSError, StopIteration, IndexError):
                break
            with lock:
                state["cpu"], state["peak"] = cpu, max(state["peak"], rss)
                state["scheduler"] = max(state["scheduler"], busy)
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    for line in process.stdout:
        state["lines"].append(line)
        found = re.match(r"\[(\d+)/(\d+):", line)
        if found:
            done = int(found.group(1))
            with lock:
                if done in (MARK, bodies):
                    state["marks"][done] = (state["cpu"], state["peak"], state["scheduler"])
    process.wait()
    sampler.join()
    if process.returncode or set(state["marks"]) != {MARK, bodies}:
        raise SystemExit("the scale build failed:\n" + "".join(state["lines"][-30:]))
    state["marks"]["exit"] = (state["cpu"], state["peak"], state["scheduler"])
    return state["marks"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bodies", type=int, default=200)
    args = parser.parse_args()
    if args.bodies <= MARK:
        raise SystemExit(f"--bodies must be more than {MARK}")
    with tempfile.TemporaryDirectory(prefix="annual-review-scale-") as tmp:
        root = Path(tmp)
        make_workspace(root, args.bodies)
        started = time.perf_counter()
        marks = measure(root, args.bodies)
        wall = time.perf_counter() - started
        tasks = sum(len(json.loads(m.read_text(encoding="utf-8"))["sections"])
                    for m in (root / "out").glob("*/*/manifest.json")) / args.bodies  # sections in a body-year
    (cpu_mark, rss_mark, sched_mark), (cpu_end, rss_end, sched_end) = marks[MARK], marks[args.bodies]
    cpu_exit = marks["exit"][0]
    per_body_year = (cpu_end - cpu_mark) / (args.bodies - MARK)
    after = (cpu_exit - cpu_end) / args.bodies  # the index, the city site (search, indicators): once, at the end
    print(f"SYNTHETIC workspace: {args.bodies} bodies × 1 year of trivial sections (合成单位1…N), --scheduler local "
          f"(2 workers; the scheduler a process of its own): {wall:.0f} s")
    print(f"  client CPU per body-year while building: {per_body_year * 1000:.1f} ms (target ≤ 20 ms: "
          f"{'meets' if per_body_year <= 0.020 else 'misses'}); one task a body-year ({tasks:.0f} sections in it)")
    print(f"  then the city's index and site, once at the end: {after * 1000:.1f} ms per body-year; the whole run "
          f"(start-up included): {cpu_exit / args.bodies * 1000:.1f} ms per body-year")
    print(f"  scheduler CPU per task: {(sched_end - sched_mark) / (args.bodies - MARK) * 1000:.1f} ms")
    growth = rss_end - rss_mark
    print(f"  client peak RSS: {rss_mark:.0f} MB by body-year {MARK}, {rss_end:.0f} MB by {args.bodies} "
          f"(grew {growth:.0f} MB; target ≤ 50 MB: {'meets' if growth <= 50 else 'misses'})")
    known = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.is_file() else {}
    section, render = known.get("section_s", 0.23), known.get("render_s", 2.9)
    per_report = known.get("sections_per_report", 11)
    work = per_report * section + render  # core-seconds of one real report's tasks
    critical = section + render  # one body: its sections side by side, then its render
    print(f"\nProjection, 2,000 bodies × 1 year of the real sections ({per_report} of {section:.2f} s and a render of "
          f"{render:.2f} s; bench_cluster.py), with {per_body_year * 1000:.0f} ms of client work per body-year while "
          f"building and {after * 1000:.0f} ms at the end:")
    result = {}
    for cores in (16, 64, 256):
        ideal = 2000 * work / cores + critical
        client = 2000 * per_body_year
        projected = max(2000 * work / cores, client) + critical + 2000 * after
        limit = "the workers' cores" if 2000 * work / cores >= client else "the client (one process)"
        print(f"  {cores:3} cores: about {projected / 60:5.1f} min against an ideal {ideal / 60:4.1f} min "
              f"({projected / ideal:.2f}×) — limited by {limit}")
        result[cores] = (projected, ideal)
    ratio = result[256][0] / result[256][1]
    print(f"  256 cores within 1.5× of the ideal: {'yes' if ratio <= 1.5 else f'NO ({ratio:.1f}×): the client is the limit'}")
    known["client_cpu_at_end_per_body_year_s"] = round(after, 4)
    known["scheduler_cpu_per_task_s"] = round((sched_end - sched_mark) / (args.bodies - MARK), 4)
    known.update({"scale_bodies": args.bodies, "scale_wall_s": round(wall, 1),
                  "client_cpu_per_body_year_s": round(per_body_year, 4), 
                  f"client_rss_mb_{MARK}": round(rss_mark, 1), f"client_rss_mb_{args.bodies}": round(rss_end, 1),
                  "projection_256_s": round(result[256][0], 1), "ideal_256_s": round(result[256][1], 1)})
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(known, indent=2) + "\n", encoding="utf-8")
    print(f"\nWritten: {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
