"""Fonts by role, as Chinese official documents set them, with open-licence Simplified-Chinese fallbacks.

Roles (GB/T 9704): the title in 小标宋, the body in 仿宋, level-1 headings in 黑体,
level-2 headings in 楷体, and tables and charts. For each role the config's
``document:`` names the fonts a bureau prefers (its own system's); after them come
open-licence Simplified-Chinese faces from the system's packages — Debian/Ubuntu
``fonts-noto-cjk`` (Noto Serif CJK SC, Noto Sans CJK SC) and ``fonts-lxgw-wenkai``
(LXGW WenKai, a 楷体) or ``fonts-arphic-ukai`` — which ``make system-deps`` installs;
the last resort is Noto Serif SC / Noto Sans SC from PyPI (``annual-review[fonts]``),
the Simplified-Chinese cut. HTML, PDF, Word and charts use the same role fonts, and
the HTML carries the body role's face, cut down to the characters the report uses
(digits and Latin letters included, so they match the Chinese around them).
"""

from __future__ import annotations

import functools
import importlib.util
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROLES = ("title", "body", "heading1", "heading2", "figures")
ROLE_NAMES = {"title": "标题（小标宋）", "body": "正文（仿宋）", "heading1": "一级标题（黑体）",
              "heading2": "二级标题（楷体）", "figures": "表格和图表"}
# What each role's config key is, and its preferred fonts when the config names none.
ROLE_KEYS = {"title": "title_font", "body": "body_font", "heading1": "heading_fonts", "heading2": "heading_fonts",
             "figures": "figure_font"}
DEFAULT_PREFERRED = {
    "title": ("方正小标宋简体", "FZXiaoBiaoSong-B05S", "方正小标宋_GBK"),
    "body": ("仿宋_GB2312", "仿宋", "FangSong", "FangSong_GB2312", "STFangsong"),
    "heading1": ("黑体", "SimHei", "STHeiti"),
    "heading2": ("楷体_GB2312", "楷体", "KaiTi", "KaiTi_GB2312", "STKaiti"),
    "figures": ("黑体", "SimHei", "Microsoft YaHei", "PingFang SC"),
}
# The same fonts under the names their files give them (the config may use either).
ALIASES = {"仿宋_GB2312": "FangSong_GB2312", "仿宋": "FangSong", "黑体": "SimHei", "楷体": "KaiTi",
           "楷体_GB2312": "KaiTi_GB2312", "方正小标宋简体": "FZXiaoBiaoSong-B05S", "微软雅黑": "Microsoft YaHei"}
# Open-licence Simplified-Chinese faces from the system's packages, by role (fonts-noto-cjk, fonts-lxgw-wenkai, fonts-arphic-ukai).
SYSTEM_FALLBACKS = {
    "title": ("Noto Serif CJK SC", "Source Han Serif SC"),
    "body": ("Noto Serif CJK SC", "Source Han Serif SC"),
    "heading1": ("Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei"),
    "heading2": ("LXGW WenKai", "AR PL UKai CN", "Noto Serif CJK SC"),
    "figures": ("Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei"),
}
SERIF_ROLES = {"title", "body", "heading2"}
FALLBACK_PACKAGE = "pylopdf_fonts_zh_cn"  # PyPI: pylopdf-fonts-zh-cn, Noto Sans SC and Noto Serif SC (SIL OFL)
PACKAGE_FILES = {"serif": "NotoSerifSC-Regular.otf", "sans": "NotoSansSC-Regular.otf"}
PROBE_TEXT = "法治政府建设年度报告幼儿园"
EMBEDDED_FAMILY = "AR Report CJK"  # the name reports give the subset of the body font they carry
FIGURE_FONT_ENV = "ANNUAL_REVIEW_FIGURE_FONTS"  # the build tells its kernels the figures role's preferred fonts


@dataclass(frozen=True)
class CJKFont:
    family: str
    path: Path
    source: str  # "system" or "package"
    role: str = "figures"


def _font_manager():
    from matplotlib import font_manager

    return font_manager


def preferred(document: Mapping | None, role: str) -> tuple[str, ...]:
    """The fonts the config prefers for ``role`` (its names and their file names), else the defaults."""
    key = ROLE_KEYS[role]
    value = (document or {}).get(key)
    if role in ("heading1", "heading2") and isinstance(value, Sequence) and not isinstance(value, str):
        value = value[0 if role == "heading1" else 1] if len(value) > (0 if role == "heading1" else 1) else None
    if role == "figures" and value is None:
        env = os.environ.get(FIGURE_FONT_ENV)
        value = env.split(",") if env else None
    names = [value] if isinstance(value, str) else list(value or [])
    names = names or list(DEFAULT_PREFERRED[role])
    return tuple(dict.fromkeys(n for name in names for n in (name, ALIASES.get(name)) if n))


# How Word and WPS find a stand-in for a font a machine lacks (fontTable.xml): the GB2312 character set, the font's
# family and, for the faces offices use, the PANOSE numbers Windows gives them. Unknown faces get charset and family only.
WORD_FAMILY = {"title": "roman", "body": "roman", "heading1": "swiss", "heading2": "script", "figures": "swiss"}
PANOSE = {
    "仿宋_GB2312": "02010609030101010101", "仿宋": "02010609060101010101", "FangSong": "02010609060101010101",
    "黑体": "02010609060101010101", "SimHei": "02010609060101010101",
    "楷体_GB2312": "02010609030101010101", "楷体": "02010609060101010101", "KaiTi": "02010609060101010101",
    "宋体": "02010600030101010101", "SimSun": "02010600030101010101",
}


def fallbacks(document: Mapping | None, role: str) -> tuple[str, ...]:
    """Every face that may draw ``role``, best first: the config's fonts, the stock Windows and macOS faces of the
    role, then the open-licence Simplified-Chinese faces (named last). Word and WPS take this list from the
    document's font table; on Linux, fontconfig takes it from :func:`fontconfig_aliases`."""
    return tuple(dict.fromkeys([*preferred(document, role), *DEFAULT_PREFERRED[role], *SYSTEM_FALLBACKS[role]]))


def fontconfig_aliases(document: Mapping | None = None) -> str:
    """A fontconfig file that resolves each role's office fonts to the open-licence faces of the same role.

    LibreOffice reads neither ``w:altName`` nor PANOSE from a .docx (its DOCX import ignores them), so on
    Linux a missing 仿宋_GB2312 falls to whatever fontconfig prefers (one sans face for everything). With this
    file installed (``annual-review fonts --aliases``) the body is drawn in a serif, level-1 headings in a sans
    and level-2 headings in a 楷体, as the config's roles say.
    """
    from xml.sax.saxutils import escape

    rules = []
    for role in ROLES:
        open_faces = [f for f in SYSTEM_FALLBACKS[role] if f in _system_families()] or list(SYSTEM_FALLBACKS[role][:1])
        for name in fallbacks(document, role):
            if name in SYSTEM_FALLBACKS[role] or any(name in SYSTEM_FALLBACKS[r] for r in ROLES):
                continue
            accept = "".join(f"<family>{escape(f)}</family>" for f in open_faces)  # after the font itself, if installed
            rules.append(f'  <alias binding="same"><family>{escape(name)}</family><accept>{accept}</accept></alias>')
    body = "\n".join(dict.fromkeys(rules))
    return ('<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">\n'
            "<!-- annual-review: each role's office fonts, drawn with the open-licence face of the same role where they "
            "are missing (written by: annual-review fonts, with its aliases option) -->\n<fontconfig>\n" + body
            + "\n</fontconfig>\n")


def aliases_path() -> Path:
    """Where ``annual-review fonts --aliases`` puts the fontconfig file: the user's own fontconfig folder."""
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "fontconfig" / "conf.d" / "70-annual-review.conf"


def rescan() -> None:
    """Look at the system's fonts again: matplotlib keeps its list of them in a cache that does not see fonts
    installed since (``make system-deps``). ``annual-review fonts`` does this, so builds need not."""
    fm = _font_manager()
    fm.fontManager = fm._load_fontmanager(try_read_cache=False)
    _system_families.cache_clear()
    _role_font.cache_clear()


@functools.cache
def _system_families() -> dict[str, Path]:
    fm = _font_manager()
    found: dict[str, Path] = {}
    for entry in fm.fontManager.ttflist:
        if entry.style == "normal" and entry.weight in (400, "normal", "regular", "book"):
            found.setdefault(entry.name, Path(entry.fname))
    for entry in fm.fontManager.ttflist:
        found.setdefault(entry.name, Path(entry.fname))
    return found


def _package_font(role: str) -> CJKFont | None:
    spec = importlib.util.find_spec(FALLBACK_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    file = PACKAGE_FILES["serif" if role in SERIF_ROLES else "sans"]
    for folder in spec.submodule_search_locations:
        path = Path(folder) / file
        if path.is_file():
            fm = _font_manager()
            fm.fontManager.addfont(str(path))
            return CJKFont(fm.FontProperties(fname=str(path)).get_name(), path, "package", role)
    return None


def role_font(role: str, document: Mapping | None = None) -> CJKFont | None:
    """The font that draws ``role``'s text here: a preferred one, else a system fallback, else the PyPI one."""
    return _role_font(role, tuple(preferred(document, role)))


@functools.cache
def _role_font(role: str, names: tuple[str, ...]) -> CJKFont | None:
    families = _system_families()
    for family in (*names, *SYSTEM_FALLBACKS[role]):
        if family in families:
            return CJKFont(family, families[family], "system", role)
    return _package_font(role)


def role_fonts(document: Mapping | None = None) -> dict[str, CJKFont | None]:
    return {role: role_font(role, document) for role in ROLES}


def css_families(document: Mapping | None, role: str) -> str:
    """The CSS font-family list of a role: the preferred fonts, the open fallbacks, the report's own face, a generic."""
    names = [*preferred(document, role), *SYSTEM_FALLBACKS[role]]
    font = role_font(role, document)
    if font is not None and font.source == "package":
        names.append(font.family)
    generic = "serif" if role in SERIF_ROLES else "sans-serif"
    return ", ".join([*(f'"{n}"' for n in dict.fromkeys(names)), f'"{EMBEDDED_FAMILY}"', generic])


def find_cjk_font() -> CJKFont | None:
    """The font charts use (the tables-and-charts role), or None when this machine has none."""
    return role_font("figures")


def require_cjk_font(role: str = "figures", document: Mapping | None = None) -> CJKFont:
    """Like :func:`role_font`, but raise a ChartError saying how to get one."""
    from .exceptions import ChartError

    font = role_font(role, document)
    if font is None:
        raise ChartError(
            "No font that draws Chinese was found. Install one: `make setup` does it for you "
            "(Debian/Ubuntu as root: apt-get install fonts-noto-cjk fonts-lxgw-wenkai; otherwise "
            "pip install 'annual-review[fonts]')."
        )
    return font


@functools.lru_cache(maxsize=8)
def _face_index(font: CJKFont) -> int:
    """Which face of the file is ``font``: in a collection (.ttc: Noto CJK holds JP, KR, SC, TC…), the one named
    ``font.family``; 0 in a single font."""
    from fontTools.ttLib import TTCollection

    if font.path.suffix.lower() != ".ttc":
        return 0
    collection = TTCollection(str(font.path), lazy=True)
    return next((index for index, face in enumerate(collection.fonts)
                 if face["name"].getBestFamilyName() == font.family), 0)


def _open_face(font: CJKFont):
    """The font as a fontTools TTFont (its face ``font.family`` in a collection)."""
    from fontTools.ttLib import TTFont

    if font.path.suffix.lower() != ".ttc":
        return TTFont(str(font.path), lazy=True)
    return TTFont(str(font.path), fontNumber=_face_index(font), lazy=True)


def prepare(document: Mapping | None = None) -> None:
    """What :func:`embedded_font_css` needs first, done ahead (say while sections run): the body role's font found,
    its characters read, the subsetter loaded."""
    import uharfbuzz  # noqa: F401
    from fontTools.ttLib import TTFont  # noqa: F401

    _characters(require_cjk_font("body", document))


def _cut(font: CJKFont, characters: str) -> bytes:
    """The font cut down to ``characters``, as WOFF: HarfBuzz's subsetter (a CJK font's thousands of CFF glyphs in
    milliseconds, where fontTools' takes seconds), without hints or layout features — a fallback face for Chinese
    set horizontally, where they add half the size and change nothing a reader sees."""
    import io

    import uharfbuzz as hb
    from fontTools.ttLib import TTFont

    request = hb.SubsetInput()
    request.sets(hb.SubsetInputSets.UNICODE).update(map(ord, characters))
    request.sets(hb.SubsetInputSets.LAYOUT_FEATURE_TAG).clear()
    request.flags = hb.SubsetFlags.NO_HINTING
    cut = hb.subset(hb.Face(hb.Blob.from_file_path(str(font.path)), _face_index(font)), request)
    if cut is None:
        raise OSError(f"{font.path}: HarfBuzz could not cut the font down to the report's characters")
    woff = TTFont(io.BytesIO(cut.blob.data))
    woff.flavor = "woff"  # zlib-compressed, table by table (WOFF2 would need brotli)
    buffer = io.BytesIO()
    woff.save(buffer)
    return buffer.getvalue()


def missing_glyphs(text: str, font: CJKFont | None = None) -> list[str]:
    """The characters of ``text`` beyond ASCII that the font cannot draw."""
    cmap = _characters(font or require_cjk_font())
    return sorted({c for c in text if ord(c) > 127 and not c.isspace() and ord(c) not in cmap})


@functools.lru_cache(maxsize=8)
def _characters(font: CJKFont) -> frozenset[int]:
    """The code points a font draws (read by HarfBuzz, once per process: fontTools takes half a second on a CJK font)."""
    import uharfbuzz as hb

    return frozenset(hb.Face(hb.Blob.from_file_path(str(font.path)), _face_index(font)).unicodes)


_ASCII = "".join(chr(c) for c in range(33, 127))


def embedded_font_css(text: str, cache_dir: Path | None = None, document: Mapping | None = None) -> str:
    """An @font-face rule carrying the body role's font, cut down to the characters of ``text``, as a data URI.

    Readers' own fonts come first in the report's font lists; this face is the last
    resort, so the report reads correctly on a machine with no Chinese font at all. Digits
    and Latin letters are carried too, so that they are drawn in the same face as the
    Chinese around them. Raise ChartError naming any character the font cannot draw.
    """
    import base64

    from .exceptions import ChartError

    font = require_cjk_font("body", document)
    used = set(text)  # (a set first: a page with its charts inline runs to megabytes of base64)
    wanted = "".join(sorted({c for c in used if ord(c) > 127 and not c.isspace()} | set(_ASCII)))
    cached = None
    if cache_dir is not None:  # the same characters as an earlier build: checked and cut then
        import hashlib

        stat = font.path.stat()
        name = hashlib.sha256(f"{font.path}|{font.family}|{stat.st_size}|{stat.st_mtime_ns}|{wanted}".encode()).hexdigest()[:32]
        cached = cache_dir / f"font-{name}.css"
        if cached.is_file():
            return cached.read_text(encoding="ascii")
    missing = missing_glyphs(wanted, font)
    if missing:
        raise ChartError(
            f"The report uses characters its font ({font.family}) cannot draw, which would print as boxes: "
            f"{''.join(missing)} ({', '.join(f'U+{ord(c):04X}' for c in missing)})"
        )
    data = base64.b64encode(_cut(font, wanted)).decode("ascii")
    css = (
        f'@font-face {{ font-family: "{EMBEDDED_FAMILY}"; font-display: block; '
        f'src: url(data:font/woff;base64,{data}) format("woff"); }}'
    )
    if cached is not None:  # the same characters next time: no need to cut the font again
        from ..core.files import write_atomic

        write_atomic(cached, css)
    return css
