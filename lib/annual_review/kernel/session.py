"""The engine's contract with a warm kernel: the five calls it makes there, as plain functions.

This module runs inside the kernels. The engine (:mod:`annual_review.build.engine`) calls
each function (but :func:`preload`, which the kernel's command runs) by reference — its module and name are read from the function object, so a
rename here is a rename there — and never sends code of its own:

- :func:`preload`, as the kernel starts (before it answers): the imports every section pays for;
- :func:`warm_up`, once per kernel: the costly imports and first uses, then the file hook;
- :func:`baseline`, once the kernel is warm: the state every section starts from;
- :func:`prepare`, instead of those two on a kernel started for one section only: the file hook;
- :func:`enter`, before each section: the section's environment and working folder;
- :func:`after`, after each section: the files it read (with their stamps) and what it
  changed that cannot be put back;
- :func:`clean`, once the kernel is warm and after each section's :func:`after`: an empty
  namespace and the baseline's process state (done while the kernel would wait anyway).

Every function returns plain values (str, int, list, dict) that survive ``repr`` → ``ast.literal_eval``.
"""

from __future__ import annotations

import os


def preload() -> None:
    """As the kernel starts, before it answers (ipykernel's ``exec_lines``, set by :mod:`.launch`): import what every
    section imports — pandas, matplotlib, the library's notebook API — while the build is still importing its own
    client and checking data, instead of after it asks."""
    import IPython.display  # noqa: F401
    import matplotlib.pyplot  # noqa: F401
    import pandas  # noqa: F401

    import annual_review.notebook.charts  # noqa: F401
    import annual_review.notebook.elements  # noqa: F401
    import annual_review.registers.reading  # noqa: F401


def warm_up() -> bool:
    """Pay what every section pays for, once: pandas, matplotlib, pandera (unless the build checks the data), the
    library's modules and first uses.

    The garbage collector rests meanwhile (until :func:`baseline`): importing makes objects that all live as long as
    the kernel, and collecting among them as they come is a tenth of the warm-up's time.
    """
    import gc

    gc.disable()
    preload()  # (done already as the kernel started, when it was started by the build)
    from ..core import tracking
    from . import isolation

    if not tracking.checked_by_build():  # (a build that checks the data itself: the sections check no schema)
        import pandera.pandas  # noqa: F401

    isolation.warm_up()
    return True


def baseline(cwd: str) -> bool:
    """Record the warm kernel's state, in ``cwd``; every section starts from it.

    What the warm-up made lives as long as the kernel: it is moved out of the garbage collector's sight
    (``gc.freeze``), so the collection that empties the namespace between sections walks only what a section made.
    """
    import gc

    from . import isolation

    isolation.baseline(cwd)
    gc.collect()
    gc.freeze()
    gc.enable()
    return True


def prepare() -> bool:
    """On a kernel started for one section, which no other section will use (a rebuild of the one or two parts whose
    data changed): only what the section's run needs — every file it opens seen, the kernel's memory limit. No
    warm-up (the section imports what it uses, once either way) and no baseline (nothing comes after it to compare).
    """
    from ..core import tracking
    from . import isolation

    tracking.install()
    tracking.clear()  # the section's record starts now
    isolation.limit_memory()
    return True


def clean() -> bool:
    """Between sections: an empty namespace and the baseline's process state, nothing of the section before left.

    Called as soon as a section's :func:`after` has answered, while the kernel would otherwise wait idle (the build
    renders, the preview waits for the next edit), so the next section does not wait for it.
    """
    from IPython import get_ipython

    from ..core import tracking
    from . import isolation

    shell = get_ipython()
    if shell is not None:
        shell.run_line_magic("reset", "-f")
    isolation.restore()
    tracking.clear()
    return True


def enter(env: dict, cwd: str = "") -> bool:
    """Before a section, on a clean kernel: the section's ``env`` and ``cwd``.

    ``env`` is what the build tells this section only (the body, its params, the chart fonts); ``cwd`` is the
    body's notebooks folder when one kernel serves several bodies.
    """
    os.environ.update({str(k): str(v) for k, v in env.items()})
    if cwd:
        os.chdir(cwd)
    return True


def after() -> dict:
    """After a section: ``reads`` (every file it read or looked for), ``stamps`` (each opened file → [mtime_ns,
    size] when opened) and ``unchecked`` (each file its tables were loaded from without their schema check → its
    digest): what its result needs, answered at once."""
    from ..core import tracking

    return {"reads": tracking.reads(), "stamps": tracking.stamps(), "unchecked": tracking.unchecked_loads()}


def settle() -> list[str]:
    """Once a section's result is handed on: what it changed that cannot be put back (the kernel is then retired);
    if nothing, the kernel is emptied for the next section (:func:`clean`). Comparing the whole process with the
    baseline takes a tenth of a second, which no section's result waits for."""
    from . import isolation

    changed = isolation.changes()
    if not changed:
        clean()
    return changed
