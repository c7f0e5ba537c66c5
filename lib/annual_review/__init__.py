"""annual-review: a public body's yearly records → its published annual report, from notebooks.

The public API is re-exported here, loaded on first use, so that the command line
starts in a blink when there is nothing to build.
"""

from importlib import import_module

_EXPORTS = {
    "bar_chart": "notebook.charts",
    "trend_chart": "notebook.charts",
    "figure": "notebook.figures",
    "Indicator": "notebook.figures",
    "headline": "notebook.figures",
    "load_history": "notebook.figures",
    "load_previous": "notebook.figures",
    "available_years": "registers.reading",
    "load_table": "registers.reading",
    "month_labels": "notebook.figures",
    "months_of": "notebook.figures",
    "resolve_year": "registers.reading",
    "select": "registers.rows",
    "tally": "notebook.figures",
    "total": "registers.rows",
    "rate": "core.numbers",
    "show_changes": "notebook.elements",
    "show_chart": "notebook.elements",
    "show_trends": "notebook.elements",
    "show_follow_up": "notebook.elements",
    "show_narrative": "notebook.elements",
    "show_table": "notebook.elements",
    "AnnualReviewError": "core.exceptions",
    "BuildError": "core.exceptions",
    "ChartError": "core.exceptions",
    "ConfigError": "core.exceptions",
    "DataError": "core.exceptions",
    "NarrativeError": "core.exceptions",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name == "__version__":  # read from the installed package's metadata when asked (a kernel seldom asks)
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("annual-review")
        except PackageNotFoundError:  # imported from a source tree that was not installed
            value = "0+unknown"
        globals()[name] = value
        return value
    if name in _EXPORTS:
        value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'annual_review' has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), "__version__", *_EXPORTS})
