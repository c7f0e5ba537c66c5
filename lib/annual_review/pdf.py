"""The report as a PDF for filing and printing, laid out by WeasyPrint from the same rendered report.

A4 with the margins, fonts and sizes the config's ``document`` settings give (after
GB/T 9704), page numbers in the footer, Chinese glyphs embedded (the report carries
its own font subset), and text that can be selected and searched.
"""

from __future__ import annotations

from .exceptions import BuildError


_MISSING = (
    "PDF needs the Pango text library, which this machine lacks{detail}. `make system-deps` installs it on "
    "Debian/Ubuntu as root (apt-get install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0); "
    "or build without a PDF: --format html"
)


def check_pdf_support() -> None:
    """Raise BuildError at once, with what to do, if this machine lacks what WeasyPrint draws text with."""
    import ctypes.util

    if ctypes.util.find_library("pango-1.0") is None:
        raise BuildError(_MISSING.format(detail=""))


def pdf_bytes(report_html: str) -> bytes:
    """The rendered report (its HTML) as a PDF."""
    try:
        import weasyprint
    except OSError as exc:  # the Python package is there, the Pango library it draws text with is not
        raise BuildError(_MISSING.format(detail=f" ({exc})")) from None
    return weasyprint.HTML(string=report_html).write_pdf()
