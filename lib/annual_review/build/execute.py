"""Running a year's sections on a :class:`~annual_review.build.engine.SectionRunner`: submitted together, reported
as they finish, run again when an input changed under them, and fingerprinted for the cache."""

from __future__ import annotations

import concurrent.futures
import os
from pathlib import Path

from ..core.tracking import CHECKED_ENV
from . import manifest
from .engine import SectionOutcome, SectionRunner
from .plan import Plan, SectionResult
from .progress import Progress

MAX_RERUNS = 3  # a section whose input changed while it ran is run again, this many times at most


def execute_all(plans: list[Plan], sections: Path, runner: SectionRunner, progress: Progress, env: dict,
                roots: tuple = (), log=print, started: list | None = None,
                checked: dict | None = None) -> dict[str, SectionResult]:
    """Run the plans that must run, on ``runner``, into ``sections``; their results as they finish.

    Every file a section read inside ``roots`` (the data and project folders) is fingerprinted for the cache; one
    that changed while the section ran (its time or size is not what it was when the section opened it) runs the
    section again, so its output is never recorded against content it did not read. Reads elsewhere are said.
    ``started``: (job, future) pairs already submitted (before the data was checked); a plan whose job is one of
    them takes its future, and one no plan wants is cancelled, or waited for and its notebook removed.

    ``checked``: the content the build's data check saw (each real path → its digest). A section whose tables were
    loaded without their schema check (``env`` says the build checks) from any other content runs again, checking
    them itself: nothing unchecked reaches the report.
    """
    waiting = list(started or [])
    running = {}
    for plan in (p for p in plans if p.runs):
        job = plan.job(sections, env)
        future = next((f for j, f in waiting if j == job), None)
        waiting = [(j, f) for j, f in waiting if f is not future]
        running[future or runner.submit(job)] = (plan, 0)
    for job, future in waiting:  # (the outline changed with the data: a table emptied or filled)
        if not future.cancel():
            concurrent.futures.wait([future])
            job.target.unlink(missing_ok=True)
    results: dict[str, SectionResult] = {}
    while running:
        done, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
        for future in done:
            plan, reruns = running.pop(future)
            section = plan.section
            if future.cancelled() or future.result().status == "cancelled":  # the runner closed (Ctrl-C, SIGTERM)
                raise KeyboardInterrupt
            outcome: SectionOutcome = future.result()
            result = SectionResult(section, "ran", plan.verdict.reason, outcome.seconds, plan.key,
                                   kernel=outcome.kernel)
            if not outcome.ok:
                result.state, result.cell, result.error, result.traceback = ("failed", outcome.cell, outcome.error,
                                                                             outcome.traceback)
            else:
                unchecked = sorted(p for p, digest in outcome.unchecked.items() if (checked or {}).get(p) != digest)
                if unchecked and reruns < MAX_RERUNS:
                    log(f"note: section '{section.id}': {', '.join(Path(p).name for p in unchecked)} is not what the "
                        "data check saw (changed since); running it again, its tables checked as they load")
                    job = plan.job(sections, {**env, CHECKED_ENV: "0"})
                    running[runner.submit(job)] = (plan, reruns + 1)
                    continue
                result.inputs, outside, changed = _inputs(outcome, roots)
                if changed and reruns < MAX_RERUNS:
                    log(f"note: section '{section.id}': {', '.join(Path(c).name for c in changed)} changed while it ran; "
                        "running it again")
                    running[runner.submit(plan.job(sections, env))] = (plan, reruns + 1)
                    continue
                if changed:  # still changing: recorded as unknown, so the next build runs it again
                    result.inputs.update({path: None for path in changed})
                for path in outside:
                    log(f"note: section '{section.id}' read {path}, outside the project and its data: a change to it "
                        "does not run the section again (copy it into the data folder)")
            results[section.id] = result
            progress.report(result.line(), failed=result.state == "failed")
    return results


def _inputs(outcome: SectionOutcome, roots: tuple) -> tuple[dict, list[str], list[str]]:
    """(fingerprints of the files read inside ``roots``, files opened outside them, files that changed while read)."""
    inside, outside = [], []
    for path in outcome.reads:
        if not roots or any(Path(path).is_relative_to(root) for root in roots):
            inside.append(path)
        elif path in outcome.stamps:  # opened (the library's look-ups of absent files elsewhere are nobody's input)
            outside.append(path)
    changed = []
    for path in inside:
        opened = outcome.stamps.get(path)
        if opened is None:
            continue
        try:
            info = os.stat(path)
        except OSError:
            changed.append(path)
            continue
        if [info.st_mtime_ns, info.st_size] != list(opened):
            changed.append(path)
    return manifest.fingerprints(inside), outside, changed
