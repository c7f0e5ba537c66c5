"""Finding a font that draws Chinese, preferring the system's own.

Charts must never print boxes for missing glyphs. The order of preference is:
a Chinese font installed on the system (Noto/Source Han, WenQuanYi, the fonts
Windows and macOS ship), then the open-licence Noto Sans CJK font that
``make`` installs from PyPI (``annual-review[fonts]``) on machines with none.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

# Families that draw Simplified Chinese, best first. "CJK TC"/"JP" faces hold every
# simplified character too, but draw a few of them in their own region's forms.
PREFERRED_FAMILIES = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Noto Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Microsoft YaHei",
    "PingFang SC",
    "Hiragino Sans GB",
    "SimHei",
    "Noto Serif CJK SC",
    "Source Han Serif SC",
    "AR PL UMing CN",
    "Noto Sans CJK JP",
    "Noto Sans CJK TC",
    "Source Han Sans",
)
FALLBACK_PACKAGE = "cvttf_NotoSansCJK_Regular"  # PyPI: cvttf-notosanscjk-regular (SIL OFL)
PROBE_TEXT = "法治政府建设年度报告幼儿园"


@dataclass(frozen=True)
class CJKFont:
    family: str
    path: Path
    source: str  # "system" or "package"


def _font_manager():
    from matplotlib import font_manager

    return font_manager


def _system_font() -> CJKFont | None:
    fm = _font_manager()
    by_family = {f.name: Path(f.fname) for f in fm.fontManager.ttflist}
    for family in PREFERRED_FAMILIES:
        if family in by_family:
            return CJKFont(family, by_family[family], "system")
    return None


def _package_font() -> CJKFont | None:
    spec = importlib.util.find_spec(FALLBACK_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        for path in sorted(Path(folder).glob("*.[ot]t[fc]")):
            fm = _font_manager()
            fm.fontManager.addfont(str(path))
            family = fm.FontProperties(fname=str(path)).get_name()
            return CJKFont(family, path, "package")
    return None


@functools.cache
def find_cjk_font() -> CJKFont | None:
    """The font charts use for Chinese, or None when this machine has none."""
    return _system_font() or _package_font()


def require_cjk_font() -> CJKFont:
    """Like :func:`find_cjk_font`, but raise a ChartError saying how to get one."""
    from .exceptions import ChartError

    font = find_cjk_font()
    if font is None:
        raise ChartError(
            "No font that draws Chinese was found. Install one: `make setup` does it for you "
            "(pip install 'annual-review[fonts]'), or install your system's CJK fonts "
            "(Debian/Ubuntu: apt-get install fonts-noto-cjk)."
        )
    return font


EMBEDDED_FAMILY = "AR Report CJK"  # the name reports give the subset of the CJK font they carry


def _open_face(font: CJKFont):
    """The font as a fontTools TTFont; in a collection (.ttc), the face named ``font.family``."""
    from fontTools.ttLib import TTCollection, TTFont

    if font.path.suffix.lower() != ".ttc":
        return TTFont(str(font.path), lazy=True)
    collection = TTCollection(str(font.path), lazy=True)
    for index, face in enumerate(collection.fonts):
        if face["name"].getBestFamilyName() == font.family:
            return TTFont(str(font.path), fontNumber=index, lazy=True)
    return TTFont(str(font.path), fontNumber=0, lazy=True)


def missing_glyphs(text: str, font: CJKFont | None = None) -> list[str]:
    """The characters of ``text`` beyond ASCII that the report's CJK font cannot draw."""
    font = font or require_cjk_font()
    cmap = _open_face(font).getBestCmap()
    return sorted({c for c in text if ord(c) > 127 and not c.isspace() and ord(c) not in cmap})


def embedded_font_css(text: str, cache_dir: Path | None = None) -> str:
    """An @font-face rule carrying the CJK font, cut down to the characters of ``text``, as a data URI.

    Readers' own Chinese fonts come first in the report's font lists; this face is the
    last resort, so the report reads correctly on a machine with no Chinese font at all.
    Raise ChartError naming any character the font cannot draw.
    """
    import base64
    import io

    from fontTools import subset

    from .exceptions import ChartError

    font = require_cjk_font()
    wanted = "".join(sorted({c for c in text if ord(c) > 127 and not c.isspace()}))
    cached = None
    if cache_dir is not None:  # the same characters as an earlier build: checked and cut then
        import hashlib

        stat = font.path.stat()
        name = hashlib.sha256(f"{font.path}|{stat.st_size}|{stat.st_mtime_ns}|{wanted}".encode()).hexdigest()[:32]
        cached = cache_dir / f"font-{name}.css"
        if cached.is_file():
            return cached.read_text(encoding="ascii")
    missing = missing_glyphs(wanted, font)
    if missing:
        raise ChartError(
            f"The report uses characters its font ({font.family}) cannot draw, which would print as boxes: "
            f"{''.join(missing)} ({', '.join(f'U+{ord(c):04X}' for c in missing)})"
        )
    face = _open_face(font)
    options = subset.Options()
    options.flavor = "woff"  # zlib-compressed; WOFF2 would need brotli
    # A fallback face for Chinese text set horizontally: hints and layout features add half
    # the size and time and change nothing a reader would see.
    options.hinting = False
    options.layout_features = []
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=wanted)
    subsetter.subset(face)
    buffer = io.BytesIO()
    face.save(buffer)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    css = (
        f'@font-face {{ font-family: "{EMBEDDED_FAMILY}"; font-display: block; '
        f'src: url(data:font/woff;base64,{data}) format("woff"); }}'
    )
    if cached is not None:  # the same characters next time: no need to cut the font again
        from .store import write_atomic

        write_atomic(cached, css)
    return css
