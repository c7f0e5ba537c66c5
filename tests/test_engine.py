"""The build engine: order under parallelism, what the cache reuses and why, isolation, and clean exits."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path


from annual_review.build import manifest
from annual_review.build.builder import build
from conftest import FIXTURES, HANG, alive, children, run_cli, small_project, squash, visible_text, wait_until



def states(lines: list[str]) -> dict[str, str]:
    """notebook → 'ran (reason)' or 'reused', from the build's progress lines."""
    found = {}
    for line in lines:
        parts = line.split()
        if len(parts) > 3 and parts[0].startswith("[") and parts[1].endswith(".ipynb"):
            found[parts[1]] = parts[2] if parts[2] != "ran" else "ran: " + " ".join(parts[5:])
    return found


def test_report_keeps_config_order_whatever_finishes_first(tmp_path):
    relay = tmp_path / "second-done"  # the first section waits until the second has shown its text
    root = small_project(tmp_path, [("慢的一节", "relay.ipynb", {"wait_for": str(relay)}),
                                    ("快的一节", "relay.ipynb", {"done": str(relay)})])
    result = run_cli("build", "--jobs", "2", "--format", "html", "--output-dir", str(tmp_path / "out"), cwd=root)
    assert result.returncode == 0, result.stderr
    text = squash(visible_text((tmp_path / "out" / "2021" / "report.html").read_text(encoding="utf-8")))
    assert text.index("一、慢的一节第1项。") < text.index("二、快的一节第2项。")  # the report keeps the config's order


def test_a_section_never_sees_another_sections_variables(tmp_path):
    root = small_project(tmp_path, [("甲", "leaky.ipynb", {}), ("乙", "peek.ipynb", {})])
    # One kernel, so both sections run in it one after the other.
    result = run_cli("build", "--jobs", "1", "--output-dir", str(tmp_path / "out"), cwd=root)
    assert result.returncode == 0, result.stderr


def test_what_is_reused_and_why(project, monkeypatch):
    out = project / "outputs"
    lines: list[str] = []

    def run(**options) -> dict[str, str]:
        lines.clear()
        build(project / "report.yml", project / "data", out, log=lines.append, **options)
        return states(lines)

    first = run()
    assert set(first.values()) == {"ran: no earlier result"} and len(first) == 11
    manifest_record = json.loads((out / "2020" / "manifest.json").read_text(encoding="utf-8"))
    loans = str((project / "data" / "2020" / "student_loans.csv").resolve())
    assert loans in manifest_record["sections"]["dispute-resolution"]["inputs"]
    assert loans not in manifest_record["sections"]["opening"]["inputs"]
    assert manifest_record["versions"]["papermill"] and "git_commit" in manifest_record
    report = (out / "2020" / "report.html").stat().st_mtime_ns

    assert set(run().values()) == {"reused"}
    assert "Nothing changed: the report is up to date." in lines
    assert (out / "2020" / "report.html").stat().st_mtime_ns == report  # not even re-rendered

    # A data file: only the section that read it runs again.
    loans_file = project / "data" / "2020" / "student_loans.csv"
    rows = loans_file.read_text(encoding="utf-8").splitlines()
    rows[1] = rows[1].rsplit(",", 1)[0] + ",5000"
    loans_file.write_text("\n".join(rows) + "\n", encoding="utf-8")
    after_data = run()
    assert after_data.pop("50-dispute-resolution.ipynb") == "ran: data changed: student_loans.csv"
    assert set(after_data.values()) == {"reused"}

    # A narrative file is data too.
    opening = project / "data" / "2020" / "narrative" / "opening.md"
    opening.write_text(opening.read_text(encoding="utf-8") + "\n补充一句。\n", encoding="utf-8")
    assert run()["00-opening.ipynb"] == "ran: data changed: opening.md"

    # The notebook.
    notebook = project / "notebooks" / "60-legal-training.ipynb"
    notebook.write_text(notebook.read_text(encoding="utf-8").replace("Rule-of-law training", "Rule-of-law training."), encoding="utf-8")
    after_notebook = run()
    assert after_notebook.pop("60-legal-training.ipynb") == "ran: notebook changed"
    assert set(after_notebook.values()) == {"reused"}

    # A parameter given in the config (one its notebook declares: the headline indicators).
    config = project / "report.yml"
    config.write_text(config.read_text(encoding="utf-8").replace(
        "        - 规范培训业务承诺书份数  # kept from 2020 on: earlier years show no figure for it\n", ""), encoding="utf-8")
    assert run()["05-key-figures.ipynb"] == "ran: parameters changed"

    # The library's code (as if a module had been edited).
    monkeypatch.setattr(manifest, "library_fingerprint", lambda: "edited")
    assert set(run().values()) == {"ran: library changed"}
    monkeypatch.undo()
    run()

    # --force runs everything, though nothing changed.
    assert set(run(force=True).values()) == {"ran: --force"}


def test_allow_partial_marks_the_failed_section(project):
    shutil.copy(FIXTURES / "broken.ipynb", project / "notebooks" / "85-broken.ipynb")
    config = project / "report.yml"
    config.write_text(config.read_text(encoding="utf-8") + "  - heading: 坏章节\n    notebook: 85-broken.ipynb\n", encoding="utf-8")
    result = run_cli("build", "--allow-partial", cwd=project)
    assert result.returncode == 1
    text = visible_text((project / "outputs" / "2020" / "report.html").read_text(encoding="utf-8"))
    assert "四、坏章节" in text and "本部分未能生成（85-broken.ipynb，第3个单元格：KeyError: 'inspections'）" in text
    assert "一、主要工作措施和成效" in text  # the rest of the report is there


def _start_build(project: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "annual_review", "build", "--force", *args], cwd=project,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_kernels(build: subprocess.Popen) -> set[int]:
    return wait_until(lambda: children(build.pid), "the build starts its kernels")


def test_no_kernel_is_left_after_a_build(project):
    build_process = _start_build(project, "--format", "html")
    kernels = _wait_for_kernels(build_process)
    assert build_process.wait(timeout=HANG) == 0
    assert not any(alive(pid) for pid in kernels)


def test_two_builds_at_once_do_not_corrupt_the_output(project):
    first = _start_build(project)
    _wait_for_kernels(first)
    second = run_cli("build", "--force", cwd=project)
    assert second.returncode == 1
    assert "another build is writing here" in second.stderr and f"pid {first.pid}" in second.stderr
    assert first.wait(timeout=300) == 0
    assert (project / "outputs" / "2020" / "report.html").is_file()


def test_several_years_in_one_build(tmp_path):
    root = small_project(tmp_path, [("甲", "narrative.ipynb", {})])
    shutil.copytree(root / "data" / "2021", root / "data" / "2022")
    (root / "data" / "2022" / "narrative" / "item1.md").write_text("第二年。\n", encoding="utf-8")
    for args in (["--year", "2021", "2022"], ["--all"]):
        out = tmp_path / f"out{len(args)}"
        result = run_cli("build", *args, "--output-dir", str(out), cwd=root)
        assert result.returncode == 0, result.stderr
        assert "第1项。" in visible_text((out / "2021" / "report.html").read_text(encoding="utf-8"))
        assert "第二年。" in visible_text((out / "2022" / "report.html").read_text(encoding="utf-8"))
        assert result.stdout.count("report.html") == 2 and result.stdout.count("report.pdf") == 2


def test_years_built_together_share_kernels_but_not_variables(tmp_path):
    # One kernel for both years: 2022's first section runs right after 2021's leaky one, in the same kernel.
    root = small_project(tmp_path, [("甲", "peek.ipynb", {}), ("乙", "leaky.ipynb", {})])
    shutil.copytree(root / "data" / "2021", root / "data" / "2022")
    result = run_cli("build", "--all", "--jobs", "1", "--format", "html", "--output-dir", str(tmp_path / "out"), cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("report.html") == 2


def test_a_year_that_fails_does_not_stop_the_others(tmp_path):
    root = small_project(tmp_path, [("甲", "narrative.ipynb", {})])
    shutil.copytree(root / "data" / "2021", root / "data" / "2020")
    (root / "data" / "2020" / "narrative" / "item1.md").write_text("{{ missing_figure }}\n", encoding="utf-8")
    shutil.copytree(root / "data" / "2021", root / "data" / "2022")
    result = run_cli("build", "--all", "--format", "html", "--output-dir", str(tmp_path / "out"), cwd=root)
    assert result.returncode == 1
    assert "1 of 3 years failed" in result.stderr and "--- 2020:" in result.stderr and "missing_figure" in result.stderr
    assert not (tmp_path / "out" / "2020" / "report.html").exists()
    for year in (2021, 2022):  # built after 2020 failed
        assert (tmp_path / "out" / str(year) / "report.html").is_file()
    assert "2022/report.html" in (tmp_path / "out" / "index.html").read_text(encoding="utf-8")


def test_a_required_section_that_shows_nothing_stops_publication(tmp_path):
    root = small_project(tmp_path, [("甲", "narrative.ipynb", {}), ("乙", "silent.ipynb", {})])
    config = root / "report.yml"
    config.write_text(config.read_text(encoding="utf-8").replace("notebook: silent.ipynb", "notebook: silent.ipynb\n    required: true"),
                      encoding="utf-8")
    result = run_cli("build", "--format", "html", "--output-dir", str(tmp_path / "out"), cwd=root)
    assert result.returncode == 1
    assert "Required part(s) show nothing" in result.stderr and "(section 'item2', silent.ipynb)" in result.stderr
    assert not (tmp_path / "out" / "2021" / "report.html").exists()


def test_the_index_lists_every_built_year_with_its_files(tmp_path):
    root = small_project(tmp_path, [("甲", "narrative.ipynb", {})])
    shutil.copytree(root / "data" / "2021", root / "data" / "2022")
    out = tmp_path / "out"
    assert run_cli("build", "--all", "--format", "html,docx", "--output-dir", str(out), cwd=root).returncode == 0
    index = (out / "index.html").read_text(encoding="utf-8")
    assert index.index("<td>2022</td>") < index.index("<td>2021</td>")  # the latest first
    for year in ("2021", "2022"):
        assert f'href="{year}/report.html"' in index and f'href="{year}/report.docx"' in index
    assert 'href="2021/report.pdf"' not in index  # only the files that were built
    assert "生成时间" in index and 'lang="zh-CN"' in index


def test_a_build_with_nothing_changed_does_not_even_load_the_data_stack(project):
    """"Nothing changed" is answered from fingerprints: no kernel, no pandas, no notebook library loaded."""
    out = project / "outputs"
    assert run_cli("build", "--format", "html", "--output-dir", str(out), cwd=project).returncode == 0
    again = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "annual_review", "build", "--format", "html", "--output-dir", str(out)],
        cwd=project, capture_output=True, text=True, timeout=120,
    )
    assert again.returncode == 0 and "Nothing changed" in again.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in again.stderr.splitlines() if line.startswith("import time:")}
    assert not {"pandas", "matplotlib", "nbconvert", "jupyter_client"} & imported
