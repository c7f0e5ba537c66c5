"""The engine's contract with a warm kernel: the four calls it makes there, as plain functions.

This module runs inside the kernels. The engine (:mod:`annual_review.build.engine`) calls
each function by reference — its module and name are read from the function object, so a
rename here is a rename there — and never sends code of its own:

- :func:`warm_up`, once per kernel: the costly imports and first uses, then the file hook;
- :func:`baseline`, once the kernel is warm: the state every section starts from;
- :func:`reset`, before each section: a clean namespace and process state, the section's
  environment and working folder;
- :func:`after`, after each section: the files it read (with their stamps) and what it
  changed that cannot be put back.

Every function returns plain values (str, int, list, dict) that survive ``repr`` → ``ast.literal_eval``.
"""

from __future__ import annotations

import os


def warm_up() -> bool:
    """Pay what every section pays for, once: pandas, pandera, matplotlib, the library's modules and first uses."""
    import IPython.display  # noqa: F401
    import matplotlib.pyplot  # noqa: F401
    import pandas  # noqa: F401
    import pandera.pandas  # noqa: F401

    from . import isolation

    isolation.warm_up()
    return True


def baseline(cwd: str) -> bool:
    """Record the warm kernel's state, in ``cwd``; every section starts from it."""
    from . import isolation

    return isolation.baseline(cwd)


def reset(env: dict, cwd: str = "") -> bool:
    """Before a section: an empty namespace, the baseline's process state, then the section's ``env`` and ``cwd``.

    ``env`` is what the build tells this section only (the body, its params, the chart fonts); ``cwd`` is the
    body's notebooks folder when one kernel serves several bodies.
    """
    from IPython import get_ipython

    from ..core import tracking
    from . import isolation

    shell = get_ipython()
    if shell is not None:
        shell.run_line_magic("reset", "-f")
    isolation.restore()
    os.environ.update({str(k): str(v) for k, v in env.items()})
    if cwd:
        os.chdir(cwd)
    tracking.clear()
    return True


def after() -> dict:
    """After a section: ``reads`` (every file it read or looked for), ``stamps`` (each opened file → [mtime_ns,
    size] when opened) and ``changes`` (what it changed that cannot be put back; the kernel is retired if any)."""
    from ..core import tracking
    from . import isolation

    return {"reads": tracking.reads(), "stamps": tracking.stamps(), "changes": isolation.changes()}
