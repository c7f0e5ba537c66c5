"""The project around the code: what a newcomer relies on being true."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

from conftest import REPO


def test_environment_yml_installs_what_pyproject_declares():
    environment = yaml.safe_load((REPO / "environment.yml").read_text(encoding="utf-8"))
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    python = next(d for d in environment["dependencies"] if isinstance(d, str) and d.startswith("python"))
    assert python.removeprefix("python") == project["requires-python"]
    pip = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    extras = re.fullmatch(r"-e \.\[(.*)\]", pip[0]).group(1).split(",")
    assert set(extras) <= set(project["optional-dependencies"])


def test_the_readme_first_screen_gives_the_two_commands():
    first_screen = "\n".join((REPO / "README.md").read_text(encoding="utf-8").splitlines()[:25])
    assert "make report" in first_screen and "make test" in first_screen
    assert "annual-review preview" in first_screen  # the way to write the report


def test_ci_runs_the_readme_test_command():
    assert "make test" in (REPO / ".ci" / "run").read_text(encoding="utf-8")


def test_library_and_outputs_are_tracked_as_intended():
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True).stdout.splitlines()
    if not tracked:  # not a git checkout (an unpacked archive): nothing to check
        return
    assert any(p.startswith("lib/annual_review/") for p in tracked)
    assert [p for p in tracked if p.startswith("outputs/")] == ["outputs/.gitkeep"]


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "annual-review"
    result = subprocess.run([str(script), "build", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    assert all(option in result.stdout for option in ("--year", "--config", "--data-dir", "--output-dir"))
