"""The HTML report in a real browser (Debian's Chromium, headless): loads cleanly, offline, navigable, described."""

import os
import shutil

import pytest
from playwright.sync_api import sync_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# As the machine's notes advise: no background traffic of the browser's own, a fresh profile.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def page(built_2020, tmp_path_factory):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        context = browser.new_context()
        page = context.new_page()
        page.console_errors, page.remote_requests = [], []
        page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
        page.on("pageerror", lambda e: page.console_errors.append(str(e)))
        page.on("request", lambda r: r.url.startswith(("http:", "https:", "ws:", "wss:")) and page.remote_requests.append(r.url))
        page.goto(built_2020["report"].as_uri(), wait_until="load")
        yield page
        browser.close()


def test_loads_with_no_console_errors_and_no_network_request(page):
    assert page.title() == "广州市从化区教育局2020年度法治政府建设情况报告"
    assert page.console_errors == []
    assert page.remote_requests == []


def test_every_contents_link_reaches_its_section(page):
    links = page.locator("nav.ar-toc a")
    assert links.count() == 11  # 主要指标 and the 10 headings of the published report
    for i in range(links.count()):
        link = links.nth(i)
        target = link.get_attribute("href")
        heading = page.locator(target)
        assert heading.count() == 1
        assert heading.inner_text().replace(" ", "") == link.inner_text().replace(" ", "")
        link.click()
        assert page.evaluate("location.hash") == target


def test_every_image_has_alt_text_and_is_drawn(page):
    images = page.locator("img")
    assert images.count() == 4  # key-figure trends and the three sections' charts
    for i in range(images.count()):
        image = images.nth(i)
        assert image.get_attribute("alt")
        assert image.evaluate("img => img.complete && img.naturalWidth > 0")


def test_chinese_is_drawn_with_a_real_font_even_without_system_fonts(page, built_2020, tmp_path):
    """A reader's machine with no Chinese font (fontconfig shown only DejaVu): the page's own face draws the text."""
    fonts = tmp_path / "fonts.conf"
    fonts.write_text('<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
                     "<dir>/usr/share/fonts/truetype/dejavu</dir>"
                     f"<cachedir>{tmp_path / 'cache'}</cachedir></fontconfig>", encoding="utf-8")
    browser = page.context.browser.browser_type.launch(executable_path=CHROMIUM, headless=True, args=FLAGS,
                                                       env={**os.environ, "FONTCONFIG_FILE": str(fonts)})
    bare = browser.new_page()
    bare.goto(built_2020["report"].as_uri(), wait_until="load")
    bare.evaluate("document.fonts.ready")
    assert bare.evaluate("document.fonts.check('16px \"AR Report CJK\"', '法治政府')")
    assert bare.evaluate("[...document.fonts].some(f => f.family.includes('AR Report CJK') && f.status === 'loaded')")
    browser.close()
