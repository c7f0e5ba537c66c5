"""What a section is told besides its parameters: the body, the config's params and money rule (for narratives
and figures), the figures' fonts and the memory limit, passed to its kernel as environment variables. In
JupyterLab, with no build around, the same is read from the ``report.yml`` beside the data."""

from __future__ import annotations

import functools
from pathlib import Path

from .config import DEFAULT_CONFIG, DEFAULT_MEMORY, MEMORY_ENV, ReportConfig, load_config, memory_bytes
from .exceptions import ConfigError


CONTEXT_ENV = "ANNUAL_REVIEW_CONTEXT"  # the build tells its kernels the body's name and the config's params


def kernel_environment(config: ReportConfig) -> dict[str, str]:
    """What a build's kernels are told: the body and params (for narratives), the figures role's fonts (for charts)."""
    import json

    from .fonts import FIGURE_FONT_ENV, preferred

    told = {"body": config.body, "params": dict(config.params), "money": config.document.get("money", "元")}
    return {CONTEXT_ENV: json.dumps(told, ensure_ascii=False, default=str),
            FIGURE_FONT_ENV: ",".join(preferred(config.document, "figures")),
            MEMORY_ENV: str(memory_bytes(config.memory) or memory_bytes(DEFAULT_MEMORY))}


def narrative_context(data_dir: str | Path, year: int) -> dict:
    """What every narrative may name: year, prev_year, next_year, body and params.

    In a build, from what the build told the kernel; in JupyterLab, from the ``report.yml``
    beside the data folder (if there is one).
    """

    context = told_context(Path(data_dir).resolve().parent / DEFAULT_CONFIG)
    return {"year": year, "prev_year": year - 1, "next_year": year + 1,
            **{k: v for k, v in context.items() if k in ("body", "params")}}


def told_context(beside: Path | None = None) -> dict:
    """What the build told this kernel (body, params, the money rule); in JupyterLab, the same read from the
    ``report.yml`` at ``beside`` (default: in the working folder or the one above, as a project lays it out)."""
    import json
    import os

    told = os.environ.get(CONTEXT_ENV)
    if told:
        return {"money": "元", **json.loads(told)}
    if beside is None:
        here = Path.cwd()
        beside = next((p for p in (here / DEFAULT_CONFIG, here.parent / DEFAULT_CONFIG) if p.is_file()), here / DEFAULT_CONFIG)
    return _context_beside(beside, beside.stat().st_mtime_ns if beside.is_file() else 0)


@functools.lru_cache(maxsize=4)
def _context_beside(path: Path, mtime_ns: int) -> dict:
    """The body, params and money rule of a config file, read once per version of the file."""
    try:
        config = load_config(path) if mtime_ns else None
    except ConfigError:
        config = None
    if config is None:
        return {"body": "", "params": {}, "money": "元"}
    return {"body": config.body, "params": dict(config.params), "money": config.document.get("money", "元")}
