"""Benchmark a workspace of many bodies: this machine's warm kernels against a Dask cluster; project to a province.

    python scripts/bench_cluster.py [--bodies 12] [--years 2019 2020 2021]      (or: make bench-cluster)

It generates a SYNTHETIC workspace from the shipped body — N bodies named 合成单位1…N whose
loan registers are shortened by a few rows (their headline figure to match) and whose
opening narrative names them; their figures are not any body's — and times, in one run:
  local    `annual-review build --workspace …` on this machine's warm kernels (the default);
  dask-local  the same with `--scheduler local` (a scheduler and 2 workers of 1 thread, each a process of its own);
  dask     the same through a scheduler and 2 workers started as separate `dask` processes on 127.0.0.1.
It checks that every body × year's report text is the same in all three, prints the ratios
to the local pool (target: the cluster within 1.15×) and the city site's share of the local build
(search index, indicators page and charts; target ≤ 10%), and writes the measured cost of a section
and of a render to outputs/bench-cluster.json, from which `scripts/bench_scale.py` (run after it by
`make bench-cluster`) projects 2,000 bodies with the client's own work measured at scale.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(REPO / "lib"))


def make_workspace(root: Path, bodies: int, years: list[int]) -> list[str]:
    names = []
    for k in range(1, bodies + 1):
        name = f"合成单位{k}"
        names.append(name)
        folder = root / name
        shutil.copytree(REPO / "notebooks", folder / "notebooks")
        config = (REPO / "report.yml").read_text(encoding="utf-8").replace("body: 广州市从化区教育局", f"body: {name}")
        (folder / "report.yml").write_text(config, encoding="utf-8")
        (folder / "data").mkdir(parents=True)
        shutil.copy(REPO / "data" / "tables.yml", folder / "data" / "tables.yml")
        fewer = k % 5
        for year in years:
            shutil.copytree(REPO / "data" / str(year), folder / "data" / str(year))
            loans = folder / "data" / str(year) / "student_loans.csv"
            lines = loans.read_text(encoding="utf-8").splitlines()
            loans.write_text("\n".join(lines[: len(lines) - fewer]) + "\n", encoding="utf-8")
            figures = folder / "data" / str(year) / "key_figures.csv"
            count = len(lines) - 1 - fewer
            text = figures.read_text(encoding="utf-8")
            text = re.sub(r"^助学贷款办理人数,\d+,", f"助学贷款办理人数,{count},", text, flags=re.M)
            figures.write_text(text, encoding="utf-8")
            opening = folder / "data" / str(year) / "narrative" / "opening.md"
            opening.write_text(opening.read_text(encoding="utf-8") + f"\n（本报告为合成示例：{name}。）\n", encoding="utf-8")
            (folder / "data" / str(year) / "provenance.md").write_text(
                f"{year}年数据为合成示例（bench_cluster.py 生成），并非任何单位的记录。\n", encoding="utf-8")
    (root / "workspace.yml").write_text("bodies:\n" + "".join(f"  - {n}\n" for n in names), encoding="utf-8")
    return names


SITE_TIME = re.compile(r"Site written in ([\d.]+) s")
site_seconds: dict[str, float] = {}  # the city site's share of each build, as the build reports it


def build(root: Path, out: Path, *args: str) -> float:
    started = time.perf_counter()
    result = subprocess.run([str(BIN / "annual-review"), "build", "--workspace", str(root / "workspace.yml"), "--all",
                             "--format", "html", "--output-dir", str(out), *args], cwd=root, capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"the build failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    found = SITE_TIME.search(result.stdout)
    if found is None or not (out / "search.html").is_file():
        raise SystemExit(f"the build wrote no city site:\n{result.stdout[-2000:]}")
    site_seconds[out.name] = float(found.group(1))
    return time.perf_counter() - started


def report_texts(out: Path) -> dict[str, str]:
    found = {}
    for report in sorted(out.glob("*/*/report.html")):
        page = report.read_text(encoding="utf-8")
        page = re.sub(r"<!--.*?-->|<style.*?</style>|<head>.*?</head>", "", page, flags=re.S)
        found[str(report.relative_to(out))] = re.sub(r"\s+", "", re.sub(r"<[^>]+>", "", page))
    return found


def start_cluster(folder: Path):
    address_file = folder / "scheduler.json"
    scheduler = subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                  "--scheduler-file", str(address_file)], cwd=folder,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not address_file.is_file():
        time.sleep(0.2)
    address = json.loads(address_file.read_text())["address"]
    workers = [subprocess.Popen([str(BIN / "dask"), "worker", address, "--nthreads", "1", "--no-dashboard", "--host",
                                 "127.0.0.1"], cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
               for _ in range(2)]
    from distributed import Client

    with Client(address, timeout=60) as client:
        client.wait_for_workers(2, timeout=120)
        client.run(lambda: None)
    time.sleep(3)  # the workers' kernels warm up as they would have long before a real run
    return address, [scheduler, *workers]


def costs(out: Path) -> tuple[float, float, int]:
    """Median seconds per section run and per render, and sections per report, from the builds' manifests."""
    sections, renders, counts = [], [], []
    for record in out.glob("*/*/manifest.json"):
        data = json.loads(record.read_text(encoding="utf-8"))
        runs = [s["seconds"] for s in data["sections"].values() if s["state"] == "ran"]
        sections += runs
        counts.append(len(data["sections"]))
        if data.get("render_seconds"):
            renders.append(data["render_seconds"])
    return statistics.median(sections), statistics.median(renders or [0.5]), round(statistics.median(counts))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bodies", type=int, default=12)
    parser.add_argument("--years", type=int, nargs="+", default=[2019, 2020, 2021])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="annual-review-cluster-") as tmp:
        root = Path(tmp)
        make_workspace(root, args.bodies, args.years)
        print(f"SYNTHETIC workspace: {args.bodies} bodies × {len(args.years)} years = {args.bodies * len(args.years)} "
              "reports (合成单位1…N: the shipped body with shortened registers; not any real body's figures)")
        times = {"local": build(root, root / "out-local")}
        print(f"  local pool (this machine's warm kernels): {times['local']:.1f} s", flush=True)
        times["dask-local"] = build(root, root / "out-dask-local", "--scheduler", "local")
        print(f"  --scheduler local (a scheduler and 2 workers here): {times['dask-local']:.1f} s", flush=True)
        address, processes = start_cluster(root)
        try:
            times["dask"] = build(root, root / "out-dask", "--scheduler", address)
        finally:
            for process in reversed(processes):
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=60)
        print(f"  dask scheduler + 2 dask workers (separate processes, 127.0.0.1): {times['dask']:.1f} s")
        reference = report_texts(root / "out-local")
        same = all(report_texts(root / out) == reference for out in ("out-dask-local", "out-dask"))
        section, render, per_report = costs(root / "out-local")
    print()
    for key in ("dask-local", "dask"):
        ratio = times[key] / times["local"]
        print(f"  {key:10} / local = {ratio:.2f}   target ≤ 1.15 ({'meets' if ratio <= 1.15 else 'misses'})")
    print(f"  every report's text identical across the three: {'yes' if same else 'NO'}")
    site = site_seconds["out-local"]
    share = site / (times["local"] - site)
    print(f"  the city site (search index, indicators page and charts): {site:.1f} s, {share:.1%} on top of the "
          f"workspace build's {times['local'] - site:.1f} s   target ≤ 10% ({'meets' if share <= 0.10 else 'misses'})")
    print(f"\nA report's work: {per_report} sections of {section:.2f} s and one render of {render:.2f} s "
          f"({per_report * section + render:.1f} core-seconds); the projection to 2,000 bodies: scripts/bench_scale.py")
    out = REPO / "outputs" / "bench-cluster.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({**{k: round(v, 2) for k, v in times.items()}, "identical": same, "section_s": section,
                               "render_s": render, "sections_per_report": per_report,
                               "site_s": round(site, 2), "site_share": round(share, 4)}, indent=2) + "\n", encoding="utf-8")
    print(f"\nWritten: {out}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
