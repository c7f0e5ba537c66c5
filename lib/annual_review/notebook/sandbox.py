"""The sandbox a narrative is filled in: Jinja2's immutable sandbox narrowed to data, with limits on size and time.

No attribute of a value is reachable but a mapping's ``get``/``keys``/``values``/``items`` and the fields of the
library's objects made for narratives; every text or list a template makes is checked against
:data:`MAX_OUTPUT` before it is made; the deadline (:data:`MAX_SECONDS`) is checked at every call, operation, join
and ``range`` step, on whatever thread renders (no process-wide signal).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping

import jinja2
from jinja2.compiler import CodeGenerator
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

MAX_OUTPUT = 200_000  # characters a narrative may come to once filled in (a long report section is ~5,000)
MAX_SECONDS = 5.0  # time a narrative may take to fill in (it takes milliseconds)
MAX_RANGE = 10_000  # the most items range() may give in a narrative


class OutOfTime(BaseException):  # not an Exception: nothing in the template can catch it
    pass


budget = threading.local()  # the deadline of the narrative being rendered in this thread


def tick() -> None:
    if time.monotonic() > getattr(budget, "deadline", float("inf")):
        raise OutOfTime


def bounded_range(*args):
    """``range`` for narratives: at most MAX_RANGE items, and the time limit checked at each."""
    items = range(*args)
    if len(items) > MAX_RANGE:
        raise SecurityError(f"range() of {len(items)} items; at most {MAX_RANGE} in a narrative")
    for item in items:
        tick()
        yield item


# Plain data a narrative may look into: a mapping's values (``by_status.get('已完成', 0)``); nothing else.
SAFE_METHODS = {"get", "keys", "values", "items"}


class BoundedJoins(CodeGenerator):
    """Jinja's code generator, with ``a ~ b`` joined by the environment, which refuses a text past the size limit
    before making it (``{% set a = a ~ a %}``, doubled 29 times, is half a gigabyte)."""

    def visit_Concat(self, node, frame) -> None:
        self.write("environment.joined((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


WIDTH = re.compile(r"%[-+ #0]*(\*|\d+)?(?:\.(\*|\d+))?")  # a %-format's width and precision
MAX_WIDTH = 300  # the widest a figure may be padded or the most decimals it may have in a format spec


class Sandbox(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox, narrowed to data: no attributes but a mapping's look-ups and our figures' fields;
    every text or list it makes checked against the size limit before it is made."""

    intercepted_binops = frozenset({"*", "**", "//", "%", "+"})
    code_generator_class = BoundedJoins

    def joined(self, parts) -> str:
        tick()
        texts = [str(p) for p in parts]
        if sum(map(len, texts)) > MAX_OUTPUT:
            raise SecurityError(f"joining texts of more than {MAX_OUTPUT:,} characters in a narrative")
        return "".join(texts)

    def is_safe_attribute(self, obj, attr, value) -> bool:
        if attr.startswith("_") or not super().is_safe_attribute(obj, attr, value):
            return False
        if isinstance(obj, Mapping) and attr in SAFE_METHODS:
            return True
        return attr in getattr(type(obj), "narrative_fields", ())

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 - the sandbox's own signature
        tick()
        return super().call(__context, __obj, *args, **kwargs)

    def call_binop(self, context, operator, left, right):
        tick()
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > 64:
            raise SecurityError(f"a power of {right} in a narrative")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(times, int) and len(seq) * times > MAX_OUTPUT:
                    raise SecurityError(f"repeating a text {times} times in a narrative")
        if operator == "+" and isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
            if len(left) + len(right) > MAX_OUTPUT:
                raise SecurityError(f"joining texts of more than {MAX_OUTPUT:,} characters in a narrative")
        if operator == "%" and isinstance(left, str):
            for width, precision in WIDTH.findall(left):
                if "*" in (width, precision) or int(width or 0) > MAX_WIDTH or int(precision or 0) > MAX_WIDTH:
                    raise SecurityError(f"a format wider than {MAX_WIDTH} characters in a narrative")
        return super().call_binop(context, operator, left, right)


def start_clock(seconds: float) -> None:
    """The narrative's deadline, checked at every call, operation, join and range step: no process-wide signal (a
    kernel's or a build's own signal handlers are left alone), and it works on any thread."""
    budget.deadline = time.monotonic() + seconds


def fill(template: jinja2.Template, figures: Mapping[str, object]) -> str:
    """The template rendered with ``figures``, within the output and time limits (the clock started before it was
    compiled: compiling counts too)."""
    parts, size = [], 0
    stream = template.generate(**figures)
    try:
        for part in stream:
            tick()
            size += len(part)
            if size > MAX_OUTPUT:
                frame = stream.gi_frame
                line = template.get_corresponding_lineno(frame.f_lineno) if frame is not None else None
                stream.close()
                raise TooLong(line)
            parts.append(part)
    finally:
        budget.deadline = float("inf")
    return "".join(parts)


class TooLong(Exception):
    def __init__(self, line: int | None):
        super().__init__(line)
        self.line = line
