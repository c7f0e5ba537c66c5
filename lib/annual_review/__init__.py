"""annual-review: a public body's yearly records → its published annual report, from notebooks."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("annual-review")
except PackageNotFoundError:  # imported from a source tree that was not installed
    __version__ = "0+unknown"

from .charts import bar_chart
from .data import available_years, load_table, month_labels, months_of, resolve_year, select, tally, total
from .elements import show_chart, show_follow_up, show_narrative, show_table
from .exceptions import AnnualReviewError, BuildError, ChartError, ConfigError, DataError, NarrativeError

__all__ = [
    "__version__",
    "AnnualReviewError",
    "BuildError",
    "ChartError",
    "ConfigError",
    "DataError",
    "NarrativeError",
    "available_years",
    "bar_chart",
    "load_table",
    "month_labels",
    "months_of",
    "resolve_year",
    "select",
    "show_chart",
    "show_follow_up",
    "show_narrative",
    "show_table",
    "tally",
    "total",
]
