"""annual-review: a public body's yearly records → its published annual report, from notebooks.

The public API is re-exported here, loaded on first use, so that the command line
starts in a blink when there is nothing to build.
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("annual-review")
except PackageNotFoundError:  # imported from a source tree that was not installed
    __version__ = "0+unknown"

_EXPORTS = {
    "bar_chart": "charts",
    "trend_chart": "charts",
    "figure": "data",
    "Indicator": "data",
    "headline": "data",
    "load_history": "data",
    "load_previous": "data",
    "available_years": "data",
    "load_table": "data",
    "month_labels": "data",
    "months_of": "data",
    "resolve_year": "data",
    "select": "data",
    "tally": "data",
    "total": "data",
    "rate": "numbers",
    "show_changes": "elements",
    "show_chart": "elements",
    "show_trends": "elements",
    "show_follow_up": "elements",
    "show_narrative": "elements",
    "show_table": "elements",
    "AnnualReviewError": "exceptions",
    "BuildError": "exceptions",
    "ChartError": "exceptions",
    "ConfigError": "exceptions",
    "DataError": "exceptions",
    "NarrativeError": "exceptions",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'annual_review' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_EXPORTS])
