"""What a build means to do with each section: its parameters, its cache key, its time limit, and whether its
earlier result stands (and why not)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..core.config import ReportConfig, Section
from ..core.parameters import declared_parameters
from ..core.outputs import SECTIONS_DIR
from . import manifest

TYPE_CHECKING = False  # (typing's constant, without importing typing: every build would pay for it)
if TYPE_CHECKING:
    from .engine import SectionJob


@dataclass(frozen=True)
class BuildOptions:
    """How to build, the same for every year and body of one command (``annual-review build …``)."""

    jobs: int | None = None  # kernels at most (default: the machine's cores)
    force: bool = False  # run every section, even those whose earlier result stands
    allow_partial: bool = False  # publish a report marking failed sections instead of keeping the last good one
    formats: tuple[str, ...] = ("html", "pdf")
    timeout: float | None = None  # seconds each section may run (default: the config's)
    draft: bool = False  # a draft: unfinished text and figures' sources shown, not refused
    verbose: bool = False  # a failed section's traceback in the error, not only in failed/<section>.log
    redline: bool = False  # a draft marks what changed since the previous draft (<ins>/<del>, Word's tracked changes)
    log: Callable[[str], None] = print

    @property
    def kernels(self) -> int:
        return self.jobs or os.cpu_count() or 1


@dataclass
class SectionResult:
    """What became of a section in this build."""

    section: Section
    state: str  # "ran", "reused", "failed"
    reason: str
    seconds: float = 0.0
    key: str = ""
    inputs: dict = field(default_factory=dict)
    cell: int | None = None
    error: str = ""
    kernel: int = 0  # the process id of the kernel it ran on
    traceback: str = ""  # a failure's, in full (written to failed/<section>.log)

    def line(self) -> str:
        name = self.section.executed_name
        detail = self.reason if self.state != "failed" else f"cell {self.cell or '?'}: {self.error}"
        return f"{name:<28} {self.state:<7} {self.seconds:5.1f} s  {detail}"


@dataclass(frozen=True)
class Plan:
    """A section as this build means to treat it."""

    section: Section
    parameters: dict
    key: str
    verdict: manifest.Verdict  # whether its earlier result stands, and why not
    before: manifest.SectionRecord | None  # its entry in the previous build's record
    timeout: float  # seconds it may run

    @property
    def runs(self) -> bool:
        return not self.verdict.reuse

    def job(self, sections: Path, env: dict) -> SectionJob:
        """What a runner is handed: run in its notebooks folder, written into ``sections``."""
        from .engine import SectionJob  # (the engine is loaded once something is to run)

        notebook = self.section.notebook
        return SectionJob(notebook, sections / self.section.executed_name, self.parameters, self.timeout, env,
                          str(notebook.parent))


def plan_sections(config: ReportConfig, year: int, data_dir: Path, out: Path, previous: manifest.BuildRecord, force: bool,
                  timeout: float | None, env: dict) -> list[Plan]:
    """For each section: its parameters, cache key, time limit, and whether its earlier result stands.

    ``env`` is what its kernel is told (the body, the params, the chart fonts): part of the key.
    """
    plans = []
    offered = {"body": config.body, **config.params}
    for section in config.executable_sections():
        declared = set(declared_parameters(section.notebook))
        # The body and the config's params, to the notebooks that declare them (no "unknown parameter" for the others).
        parameters = {"year": year, "data_dir": str(data_dir),
                      **{k: v for k, v in offered.items() if k in declared}, **section.parameters}
        # The data folder by its place beside the config, not where the project is: a cluster's worker, which unpacks
        # the project in a folder of its own, reuses what the last build ran.
        portable = {**parameters, "data_dir": os.path.relpath(data_dir, config.path.parent)}
        key = manifest.section_key(section.notebook, portable, env)
        before = previous.section(section.id)
        verdict = manifest.judge(before, key, section.notebook, parameters, out / SECTIONS_DIR / section.executed_name,
                                 (data_dir.resolve(), config.path.parent.resolve()))
        if force and verdict.reuse:
            verdict = manifest.Verdict(False, "--force")
        limit = timeout or section.timeout or config.timeout
        plans.append(Plan(section, parameters, key, verdict, before, limit))
    return plans
