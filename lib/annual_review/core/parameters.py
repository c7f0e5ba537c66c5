"""A section notebook's parameters: the names its parameters cell declares (read without running it), and the
checks a config's ``parameters:`` pass before Papermill writes them into a notebook (config is data, never code)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path


def declared_parameters(notebook: Path) -> dict[str, str | None]:
    """The names a notebook's parameters cell declares, each with the type it is annotated with (``year: int``), or
    None (read without running it or importing Papermill)."""
    stat = notebook.stat()
    return dict(_declared(notebook, stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=64)
def _declared(notebook: Path, mtime_ns: int, size: int) -> tuple[tuple[str, str | None], ...]:
    import ast
    import json

    try:
        cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError, AttributeError):
        return ()
    for cell in cells:
        if cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            source = "".join(cell.get("source", [])) if isinstance(cell.get("source"), list) else str(cell.get("source", ""))
            try:
                tree = ast.parse(source)
            except SyntaxError:
                return ()
            names: dict[str, str | None] = {}
            for node in tree.body:
                if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                    names[node.target.id] = node.annotation.id if isinstance(node.annotation, ast.Name) else None
                for target in getattr(node, "targets", []):
                    if isinstance(target, ast.Name):
                        names.setdefault(target.id, None)
            return tuple(names.items())
    return ()


# What a parameter's value may be, by the type its notebook declares: literals only (config is data, never code).
_LITERAL_TYPES = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,), "list": (list,), "dict": (dict,)}


def literal(value, depth: int = 0) -> bool:
    """Whether a config value is plain data a notebook can be given: text, numbers, booleans, null, lists and
    mappings of them (with text keys), not too deep."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return True
    if depth > 8:
        return False
    if isinstance(value, list):
        return all(literal(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and literal(v, depth + 1) for k, v in value.items())
    return False


def check_parameters(parameters: Mapping, notebook: Path | None, path: Path, here: str, line_of) -> list[str]:
    """Problems with a section's ``parameters:`` (``here`` in the config ``path``): each a Python name its notebook
    declares, with a literal value of the type declared (``headline: list``); ``line_of(key)`` finds a key's line."""
    import keyword

    problems = []
    declared = declared_parameters(notebook) if notebook is not None else {}
    for key, value in parameters.items():
        at = f"{path}, line {line_of(key)}: {here}" if line_of(key) else f"{path}: {here}"
        if not isinstance(key, str) or not key.isidentifier() or keyword.iskeyword(key):
            problems.append(f"{at}: parameter name {str(key)[:60]!r} is not a name a notebook can declare (letters, "
                            "digits and _, not starting with a digit); it was not passed to any notebook")
            continue
        if notebook is not None and key not in declared:
            problems.append(f"{at}: parameter {key!r}: {notebook.name} declares no such parameter "
                            f"(its parameters cell declares {', '.join(declared) or 'none'})")
            continue
        if not literal(value):
            problems.append(f"{at}: parameter {key!r}: {type(value).__name__} is not a value a config may give "
                            "(text, numbers, true/false, lists and mappings of them; quote a date)")
            continue
        wanted = _LITERAL_TYPES.get(declared.get(key) or "")
        if wanted and value is not None and (not isinstance(value, wanted) or (isinstance(value, bool) and bool not in wanted)):
            problems.append(f"{at}: parameter {key!r} must be a {declared[key]} ({notebook.name} declares "
                            f"`{key}: {declared[key]}`), not {type(value).__name__} {str(value)[:40]!r}")
    return problems
