"""The report as a PDF for filing and printing, laid out by WeasyPrint from the same rendered report.

A4 with the margins, fonts and sizes the config's ``document`` settings give (after
GB/T 9704), page numbers in the footer, Chinese glyphs embedded (the report carries
its own font subset), and text that can be selected and searched.
"""

from __future__ import annotations

from pathlib import Path

from .exceptions import BuildError
from .paths import contained


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


def _fetcher(project: Path | None, refused: list[str]):
    """A WeasyPrint URL fetcher that serves ``data:`` URLs and files inside ``project``, and nothing else."""
    from urllib.parse import unquote, urlparse

    from weasyprint.urls import URLFetcher

    class LocalOnly(URLFetcher):
        def fetch(self, url, headers=None):
            scheme = url.split(":", 1)[0].lower()
            if scheme == "data":
                return super().fetch(url, headers)
            if scheme == "file" and project is not None:
                path = Path(unquote(urlparse(url).path))
                if path.is_file() and contained(path, project):
                    return super().fetch(url, headers)
            refused.append(url[:120])
            raise ValueError(f"not fetched: {url[:120]} (the report fetches nothing from outside)")

    return LocalOnly(allowed_protocols={"data", "file"}, allow_redirects=False)


def pdf_bytes(report_html: str, base: Path | None = None) -> bytes:
    """The rendered report (its HTML) as a PDF; nothing is fetched but ``data:`` URLs and files inside ``base``."""
    try:
        import weasyprint
    except OSError as exc:  # the Python package is there, the Pango library it draws text with is not
        raise BuildError(_MISSING.format(detail=f" ({exc})")) from None
    refused: list[str] = []
    base_url = base.resolve().as_uri() + "/" if base is not None else None
    pdf = weasyprint.HTML(string=report_html, base_url=base_url, url_fetcher=_fetcher(base, refused)).write_pdf()
    if refused:
        raise BuildError("The report asks for something from outside, which was not fetched: "
                         + ", ".join(dict.fromkeys(refused)))
    return pdf
