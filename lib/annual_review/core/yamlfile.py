"""Reading the YAML files people edit (``report.yml``, ``tables.yml``), with limits.

YAML's anchors and aliases let a few lines stand for billions of values (the
"billion laughs"); a file is refused, in plain words and at once, when it is larger
than :data:`MAX_BYTES` or its aliases would expand past :data:`MAX_VALUES`. Every
string value can be listed with its line, so that checks on config text (remote
addresses, personal data) name the line to fix.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import yaml

MAX_BYTES = 1_000_000
MAX_VALUES = 100_000


class YAMLLimitError(ValueError):
    pass


# libyaml's parser where PyYAML was built with it (its wheels are): the same nodes and marks, ten times faster —
# a workspace reads every body's config and declarations.
_Parser = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _expanded_size(root: yaml.Node) -> int:
    """How many values the document holds once every alias is expanded (counted without expanding)."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        if isinstance(node, yaml.ScalarNode):
            sizes[id(node)] = 1
            continue
        children = [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else list(node.value)
        if children_done:
            total = 1 + sum(sizes.get(id(c), 1) for c in children)
            sizes[id(node)] = min(total, MAX_VALUES + 1)
            continue
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


def compose(text: str) -> yaml.Node | None:
    """The document's node tree (aliases shared, not copied); raise YAMLLimitError past the limits."""
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise YAMLLimitError(f"larger than {MAX_BYTES // 1000} KB; a config or declaration file is a few KB")
    loader = _Parser(text)
    try:
        node = loader.get_single_node()
    finally:
        loader.dispose()
    if node is not None and _expanded_size(node) > MAX_VALUES:
        raise YAMLLimitError(f"its aliases (*name) expand to more than {MAX_VALUES:,} values; write the values out instead")
    return node


def construct(node: yaml.Node | None):
    """The Python values of a node tree from :func:`compose`."""
    if node is None:
        return None
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_document(node)
    finally:
        loader.dispose()


def load(path: Path):
    """``(values, node tree)`` of a YAML file, within the limits; raises yaml.YAMLError or YAMLLimitError."""
    text = Path(path).read_text(encoding="utf-8-sig")
    node = compose(text)
    return construct(node), node


def read(path: Path, error: type[Exception]):
    """:func:`load`, its failures said one way for every file we read: ``error`` (ConfigError for a config,
    DataError for the table declarations) naming the file and what to do."""
    try:
        return load(path)
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from None
    except YAMLLimitError as exc:
        raise error(f"{path}: refused: {exc}") from None
    except UnicodeDecodeError:
        raise error(f"{path}: not UTF-8 text; save it as UTF-8") from None


def strings(node: yaml.Node | None) -> Iterator[tuple[int, str]]:
    """Every string in the document (keys included) with its 1-based line, each aliased value once."""
    seen: set[int] = set()
    stack = [node] if node is not None else []
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, yaml.ScalarNode):
            if isinstance(current.value, str):
                yield current.start_mark.line + 1, current.value
        elif isinstance(current, yaml.MappingNode):
            stack.extend(n for pair in current.value for n in pair)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
