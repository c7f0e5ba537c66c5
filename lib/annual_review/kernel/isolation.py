"""What one section may not leave behind for the next section on the same warm kernel.

This module runs inside the kernels. :func:`baseline` records the process's state
once the kernel is warm; before each section :func:`restore` puts back what can be
put back cheaply (the working folder, environment variables, ``sys.path``, warnings
filters, pandas and NumPy options, matplotlib's settings and figures, random states,
the locale, the calendar's first weekday, the umask, …); after each section :func:`changes` lists what it changed that cannot
be put back: an attribute of a loaded module or a method of a class replaced, a
library object mutated, a resource limit or signal handler set, a thread left
running. The build retires a kernel for which that list is not empty, so the next
section starts from the state the warm-up left, whatever an earlier one did.

Notebooks are code written by the report's authors: this guards against a section
accidentally changing another's output, not against a notebook written to evade it.
"""

from __future__ import annotations

import copy
import functools
import os
import sys
import threading
import types
import warnings

from ..core.files import read_umask

LIBRARY = "annual_review"
# The kernel's own machinery changes its module state as it runs, by design; its modules are not compared.
_KERNEL_MODULES = ("__main__", "__mp_main__", "IPython.core", "IPython.utils", "ipykernel", "jupyter_client", "zmq", "tornado",
                   "asyncio", "traitlets", "comm", "debugpy", "jedi", "parso", "prompt_toolkit", "sqlite3",
                   "concurrent", "selectors", "logging", "threading", "linecache", "importlib", "encodings")
# Attributes that hold caches or counters, rewritten by ordinary use.
_VOLATILE = {"__warningregistry__", "_cache", "__loader__", "__spec__", "__cached__"}
# The layers a section's kernel uses (the build's and the apps' modules are never imported there).
KERNEL_SIDE = ("core", "registers", "notebook", "kernel")
_DEPTH = 3  # how deep the library's own objects are compared (module → object → its dict → entries)

_state: dict = {}


@functools.lru_cache(maxsize=None)
def _kernel_module(name: str) -> bool:
    return any(name == m or name.startswith(m + ".") or (m.endswith("_") and name.startswith(m)) for m in _KERNEL_MODULES)


def _modules() -> dict[str, tuple[types.ModuleType, dict, dict[str, dict]]]:
    """Every loaded module, a copy of its namespace and of the namespace of each class it defines.

    The copies hold the objects themselves: comparing them with what is there later is one comparison per module
    in C when nothing changed (the usual case), and a dict a section replaced keeps the old one to tell it apart.
    """
    found = {}
    for name, module in list(sys.modules.items()):
        namespace = getattr(module, "__dict__", None)
        if not isinstance(module, types.ModuleType) or namespace is None or _kernel_module(name):
            continue
        namespace = dict(namespace)
        classes = {key: dict(vars(value)) for key, value in namespace.items()
                   if isinstance(value, type) and getattr(value, "__module__", None) == name}
        found[name] = (module, namespace, classes)
    return found


def _same(value, other) -> bool:
    """Whether two things are one, or equal (an array, whose ``==`` is not a yes or no, is not)."""
    if value is other:
        return True
    try:
        return bool(value == other)
    except Exception:  # noqa: BLE001 - an object whose comparison fails is taken as changed
        return False


def _module_changes(name: str, old: tuple, new: tuple) -> list[str]:
    """What a section replaced, deleted or (in the library) added in one module and its classes."""
    (_, namespace, classes), (_, old_namespace, old_classes) = new, old
    try:
        if namespace == old_namespace and classes == old_classes:
            return []
    except Exception:  # noqa: BLE001 - a value whose comparison fails: compared one by one below
        pass
    found = []

    def compare(prefix: str, before: dict, after: dict, skip) -> None:
        for key, value in before.items():
            if key in _VOLATILE or skip(key):
                continue
            if key not in after:
                found.append(f"{prefix}{key} deleted")
            elif not _same(after[key], value):
                found.append(f"{prefix}{key} replaced")

    compare(f"{name}.", old_namespace, namespace, lambda key: False)
    for key, members in old_classes.items():
        if key in classes:
            compare(f"{name}.{key}.", members, classes[key], lambda method: method.startswith("_abc_"))
    if name == LIBRARY or name.startswith(LIBRARY + "."):
        found += [f"{name}.{key} added" for key in namespace.keys() - old_namespace.keys() if not key.startswith("__")]
    return found


def _library_ids() -> dict[str, int]:
    """The library's own state, a few levels deep: a filter replaced in a dict of filters is found."""
    found: dict[str, int] = {}

    def walk(path: str, value, depth: int) -> None:
        if isinstance(value, (str, bytes, int, float, bool, type(None))):
            found[path] = hash((type(value), value))  # compared by value: equal numbers are often new objects
            return
        found[path] = id(value)
        if isinstance(value, types.FunctionType):
            found[path + ".__code__"] = id(value.__code__)
            found[path + ".__defaults__"] = id(value.__defaults__)
            found[path + ".__kwdefaults__"] = id(value.__kwdefaults__)
            return
        if depth >= _DEPTH or isinstance(value, (types.ModuleType, type, threading.local)):
            return
        if isinstance(value, dict):
            items = list(value.items())
        elif isinstance(value, (list, tuple)):
            items = list(enumerate(value))
        elif isinstance(value, (set, frozenset)):
            return  # records of what was read and the like: cleared by restore(), not code
        else:  # an object's public state (its private attributes are its own caches)
            items = [(k, v) for k, v in getattr(value, "__dict__", {}).items() if not k.startswith("_")]
        for key, member in items:
            walk(f"{path}[{key!r}]" if not isinstance(value, (dict, list, tuple)) or isinstance(key, str) else f"{path}[{key}]",
                 member, depth + 1)

    for name, module in list(sys.modules.items()):
        if name == LIBRARY or name.startswith(LIBRARY + "."):
            for key, value in list(vars(module).items()):
                if key not in _VOLATILE and not key.startswith("__"):
                    walk(f"{name}.{key}", value, 1)
    return found


def _limits() -> dict:
    try:
        import resource
    except ImportError:  # Windows
        return {}
    return {name: resource.getrlimit(getattr(resource, name)) for name in dir(resource) if name.startswith("RLIMIT_")}


def _handlers() -> dict:
    import signal

    found = {}
    for number in signal.valid_signals():
        try:
            found[int(number)] = id(signal.getsignal(number))
        except (ValueError, OSError):
            continue
    return found


def _hooks() -> dict:
    import builtins

    return {
        "builtins": {k: id(v) for k, v in vars(builtins).items() if k not in ("_", "__", "___")},
        "sys": {k: id(getattr(sys, k, None)) for k in ("meta_path", "path_hooks", "displayhook", "excepthook",
                                                         "breakpointhook", "unraisablehook", "modules")},
        "hooks": (sys.meta_path[:], sys.path_hooks[:], sys.gettrace(), sys.getprofile()),
        "audit": id(getattr(sys, "_audit_hooks", None)),
    }


def _thread_code(thread: threading.Thread):
    """What a thread runs: its target, or its class (the kernel's own threads, pyzmq's garbage collector, … are allowed)."""
    return getattr(thread, "_target", None) or type(thread)


def _threads() -> set[int]:
    return {t.ident for t in threading.enumerate() if t.is_alive()}


def _repairable() -> dict:
    """What :func:`restore` can put back, as it is now."""
    import calendar
    import decimal
    import locale
    import random
    import socket

    state = {
        "calendar": calendar.firstweekday(),
        "cwd": os.getcwd(),
        "environ": dict(os.environ),
        "path": sys.path[:],
        "warnings": warnings.filters[:],
        "recursion": sys.getrecursionlimit(),
        "switch": sys.getswitchinterval(),
        "socket_timeout": socket.getdefaulttimeout(),
        "decimal": decimal.getcontext().copy(),
        "locale": locale.setlocale(locale.LC_ALL),
        "random": random.getstate(),
        "umask": read_umask(),
    }
    if "numpy" in sys.modules:
        import numpy

        state["numpy"] = (numpy.geterr(), numpy.get_printoptions(), numpy.random.get_state())
    if "pandas" in sys.modules:
        from pandas._config import config as pandas_config

        state["pandas"] = copy.deepcopy(pandas_config._global_config)
    if "matplotlib" in sys.modules:
        import matplotlib

        state["rcParams"] = dict(matplotlib.rcParams)
    return state


def warm_up() -> None:
    """Use the library once as a section would, so that what it sets up on first use is set up before :func:`baseline`."""
    import base64

    import pandas as pd

    import importlib
    import pkgutil

    import annual_review as ar
    from annual_review.notebook import charts, elements, narrative

    for name in ar.__all__:
        getattr(ar, name)
    for layer in KERNEL_SIDE:  # every module a section might import later, imported now
        package = importlib.import_module(f"annual_review.{layer}")
        for module in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"annual_review.{layer}.{module.name}")
    table = pd.DataFrame({"类别": ["甲", "乙"], "数量": [1, 2]})
    elements.table_html(table, caption="表", total_label="合计")
    narrative.to_html(narrative.render_text("# 标题\n\n1. 第{{ n | cn }}点，共{{ m | more }}人。\n", {"n": 1, "m": 120}))
    figure = charts.bar_chart(table, x="类别", y="数量", title="图", value_label="数量", unit="个", source="登记")
    base64.b64encode(charts.figure_png(figure))
    import mimetypes

    mimetypes.init()  # the process-wide table openpyxl's import (a workbook register) would otherwise fill mid-section
    from annual_review.core import tracking

    tracking.install()  # from now on, every file a section opens is seen
    limit_memory()


HEADROOM = 256 * 1024**2  # the least a section is left once the kernel's own memory is counted


def limit_memory() -> None:
    """The memory the build allows each kernel (``memory:`` in the config): a section that needs more meets a
    MemoryError, which the build names, instead of the whole machine running out. Set before the baseline is
    taken, so it is the state every section starts from (and a section that changes it is seen).

    The limit is on the memory the kernel writes to (``RLIMIT_DATA``: its heap and private maps, where pandas and
    NumPy keep their data), not its address space, of which a kernel's threads reserve a gigabyte they never use.
    """
    try:
        import resource
    except ImportError:  # Windows
        return
    limit = int(os.environ.get("ANNUAL_REVIEW_MEMORY", "0") or 0)
    kind = getattr(resource, "RLIMIT_DATA", resource.RLIMIT_AS)
    if limit <= 0:
        return
    used = _memory_in_use()
    if used is not None and limit < used + HEADROOM:
        raise MemoryError(f"memory: {limit // 1024**2} MB in the config leaves a section nothing: a kernel holds "
                          f"{used // 1024**2} MB once the library is loaded; give it at least "
                          f"{-(-(used + HEADROOM) // 2**27) * 128}MB")
    _, hard = resource.getrlimit(kind)
    if hard == resource.RLIM_INFINITY or limit < hard:
        resource.setrlimit(kind, (limit, limit))


def _memory_in_use() -> int | None:
    """The memory this process has written to (VmData, in bytes), where the system says it (Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def baseline(cwd: str) -> bool:
    """Record the warm kernel's state; every section starts from it.

    Call it the way :func:`changes` is called (as a user expression, outside a cell's run),
    since IPython adds ``exit``, ``get_ipython`` and the like to builtins while a cell runs.
    """
    os.chdir(cwd)
    _state.clear()
    _state.update(
        repairable=_repairable(),
        modules=_modules(),
        library=_library_ids(),
        limits=_limits(),
        handlers=_handlers(),
        hooks=_hooks(),
        threads=_threads(),
    )
    return True


def restore() -> None:
    """Put back what a section may have changed and can be put back: called before each section."""
    import calendar
    import decimal
    import locale
    import random
    import socket

    saved = _state["repairable"]
    calendar.setfirstweekday(saved["calendar"])
    os.chdir(saved["cwd"])
    if os.environ != saved["environ"]:
        os.environ.clear()
        os.environ.update(saved["environ"])
    sys.path[:] = saved["path"]
    warnings.filters[:] = saved["warnings"]
    warnings._filters_mutated()
    sys.setrecursionlimit(saved["recursion"])
    sys.setswitchinterval(saved["switch"])
    socket.setdefaulttimeout(saved["socket_timeout"])
    decimal.setcontext(saved["decimal"].copy())
    if locale.setlocale(locale.LC_ALL) != saved["locale"]:
        locale.setlocale(locale.LC_ALL, saved["locale"])
    random.setstate(saved["random"])
    os.umask(saved["umask"])
    if "numpy" in saved:
        import numpy

        errors, printing, generator = saved["numpy"]
        numpy.seterr(**errors)
        numpy.set_printoptions(**printing)
        numpy.random.set_state(generator)
    if "pandas" in saved:
        from pandas._config import config as pandas_config

        pandas_config._global_config.clear()
        pandas_config._global_config.update(copy.deepcopy(saved["pandas"]))
    if "rcParams" in saved:
        import matplotlib
        import matplotlib.pyplot as plt

        plt.close("all")
        dict.update(matplotlib.rcParams, saved["rcParams"])


def changes(limit: int = 5) -> list[str]:
    """What the last section changed that :func:`restore` cannot put back (empty when nothing)."""
    found: list[str] = []
    before = _state["modules"]
    for name, now in _modules().items():
        if name not in before:
            continue  # imported by the section: new, so nothing earlier depended on it
        if now[0] is not before[name][0]:
            found.append(f"module {name} replaced")
            continue
        found += _module_changes(name, before[name], now)
    library = _library_ids()
    found += [f"{path} changed" for path, value in _state["library"].items() if library.get(path) != value]
    if _limits() != _state["limits"]:
        found.append("a resource limit (setrlimit)")
    if _handlers() != _state["handlers"]:
        found.append("a signal handler")
    hooks, old_hooks = _hooks(), _state["hooks"]
    found += [f"builtins.{k}" for k in set(hooks["builtins"]) | set(old_hooks["builtins"])
              if hooks["builtins"].get(k) != old_hooks["builtins"].get(k)]
    found += [f"sys.{k}" for k in hooks["sys"] if hooks["sys"][k] != old_hooks["sys"][k]]
    if hooks["hooks"] != old_hooks["hooks"] or hooks["audit"] != old_hooks["audit"]:
        found.append("an import hook, trace or profile function")
    running = [f"{t.name} ({getattr(_thread_code(t), '__qualname__', '?')})" for t in threading.enumerate()
               if t.is_alive() and t.ident not in _state["threads"]
               and not _kernel_module(getattr(_thread_code(t), "__module__", "") or "")]
    if running:
        found.append(f"thread(s) left running: {', '.join(running)}")
    return sorted(dict.fromkeys(found))[:limit] + ([f"… {len(found) - limit} more"] if len(found) > limit else [])
