"""``annual-review preview``: write the report and watch it change in the browser.

The preview builds the year as ``build`` does (incrementally, HTML only), serves the
output folder on 127.0.0.1 with Tornado, and watches the config, the table
declarations, the year's and the previous year's data and narratives, the notebooks and
the library with watchfiles. Each change rebuilds on kernels kept warm for the whole
session (the namespace reset and isolation checks still apply), so a narrative edit
re-runs only its section. The page the server sends carries a small script (only in
what it serves: the file on disk stays script-free) that reloads it after each rebuild,
keeping the scroll position, and shows a failed rebuild's error instead of a stale
report until it is fixed. Ctrl-C or SIGTERM stops the watcher, the server and every
kernel; a second preview of the same output folder is told which process holds it.
"""

from __future__ import annotations

import html
import ipaddress
import json
import os
import secrets
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from ..core.exceptions import AnnualReviewError, BuildError
from ..core.paths import TABLES_FILE
from ..core.web import policy

LOCK = ".preview.lock"

_SCRIPT = """<script nonce="{nonce}">
(() => {{
  const key = "ar-preview-scroll:" + location.pathname;
  const saved = sessionStorage.getItem(key);
  if (saved !== null) {{ window.scrollTo(0, parseFloat(saved)); sessionStorage.removeItem(key); }}
  let shown = {version};
  const events = new EventSource("/events");
  events.onmessage = (event) => {{
    const state = JSON.parse(event.data);
    if (state.version !== shown) {{
      sessionStorage.setItem(key, String(window.scrollY));
      location.reload();
    }}
  }};
}})();
</script>"""
_ERROR_PAGE = """<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>预览：生成失败</title>
<style>body {{ font-family: sans-serif; margin: 2em; background: #fff4f0; color: #3a0d00; }}
.ar-preview-error {{ border: 2px solid #D55E00; background: #fff; padding: 1em 1.4em; }}
pre {{ white-space: pre-wrap; font-size: 0.95em; }}</style></head>
<body><div class="ar-preview-error" role="alert"><h1>报告未能生成（rebuild failed）</h1>
<p>改正下列问题并保存，本页会自动刷新。The page reloads itself once this is fixed.</p>
<pre>{error}</pre></div></body></html>"""


class _State:
    """What the server shows: the year's report, or the error of the last rebuild; and a version to reload on."""

    def __init__(self, output_dir: Path, year: int):
        self.output_dir, self.year = output_dir, year
        self.version, self.error = 0, None
        self.lock = threading.Lock()
        self.notify = None  # set by the server: wakes the pages waiting on /events

    def publish(self, error: str | None) -> None:
        with self.lock:
            self.version += 1
            self.error = error
        notify = self.notify
        if notify is not None:
            notify()

    def snapshot(self) -> dict:
        with self.lock:
            return {"version": self.version, "error": self.error}


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
    except (OSError, ValueError):
        return False


class _Server:
    """Tornado on its own thread: the report with the reload script, the output folder, and /events."""

    def __init__(self, state: _State, host: str, port: int):
        self.state, self.host, self.port = state, host, port
        self.loop = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="preview-server", daemon=True)

    def start(self) -> int:
        self.thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self.port

    def _run(self) -> None:
        import asyncio
        import datetime

        import tornado.web
        from tornado.locks import Condition

        state = self.state
        changed = Condition()

        class Report(tornado.web.RequestHandler):
            def get(self, path: str = ""):
                if not path:
                    self.redirect(f"/{state.year}/report.html")
                    return
                target = (state.output_dir / path).resolve()
                if not target.is_relative_to(state.output_dir.resolve()) or not target.is_file():
                    raise tornado.web.HTTPError(404)
                if target.name.endswith(".html"):
                    self._page(target)
                else:
                    self.set_header("Content-Type", {".pdf": "application/pdf", ".docx":
                                    "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}.get(
                                    target.suffix, "application/octet-stream"))
                    self.write(target.read_bytes())

            def _page(self, target: Path) -> None:
                nonce = secrets.token_urlsafe(16)
                snapshot = state.snapshot()
                if snapshot["error"] is not None and target.name == "report.html":
                    page = _ERROR_PAGE.format(error=html.escape(snapshot["error"]))
                else:
                    page = target.read_text(encoding="utf-8")
                # The page's own policy allows no script; the served copy allows this one, and /events, only.
                page = _replace_policy(page, policy(script_nonce=nonce, connect_self=True))
                script = _SCRIPT.format(nonce=nonce, version=snapshot["version"])
                page = page.replace("</body>", script + "</body>", 1) if "</body>" in page else page + script
                self.set_header("Content-Type", "text/html; charset=utf-8")
                self.set_header("Cache-Control", "no-store")
                self.write(page)

        class Events(tornado.web.RequestHandler):
            async def get(self):
                self.set_header("Content-Type", "text/event-stream")
                self.set_header("Cache-Control", "no-store")
                seen = None
                while True:
                    snapshot = state.snapshot()
                    if snapshot["version"] != seen:
                        seen = snapshot["version"]
                        self.write(f"data: {json.dumps(snapshot, ensure_ascii=False)}\n\n")
                        try:
                            await self.flush()
                        except tornado.iostream.StreamClosedError:
                            return
                    await changed.wait(timeout=datetime.timedelta(seconds=15))

        import tornado.iostream

        async def main() -> None:
            app = tornado.web.Application([(r"/events", Events), (r"/(.*)", Report)])
            try:
                sockets = tornado.netutil.bind_sockets(self.port, address=self.host)
            except OSError as exc:
                self._error = BuildError(f"cannot serve on {self.host}:{self.port}: {exc.strerror}; choose another --port")
                self._ready.set()
                return
            server = tornado.httpserver.HTTPServer(app)
            server.add_sockets(sockets)
            self.port = sockets[0].getsockname()[1]
            self.loop = asyncio.get_running_loop()
            state.notify = lambda: self.loop.call_soon_threadsafe(changed.notify_all)
            self._stopped = asyncio.Event()
            self._ready.set()
            await self._stopped.wait()
            server.stop()
            await server.close_all_connections()

        import tornado.httpserver
        import tornado.netutil

        asyncio.run(main())

    def stop(self) -> None:
        if self.loop is not None and not self.loop.is_closed():
            try:
                self.loop.call_soon_threadsafe(self._stopped.set)
            except RuntimeError:
                pass
        self.thread.join(timeout=2)


def _replace_policy(page: str, policy: str) -> str:
    import re

    meta = f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
    replaced, count = re.subn(r'<meta\s+(?:content="[^"]*"\s+http-equiv="Content-Security-Policy"|'
                              r'http-equiv="Content-Security-Policy"\s+content="[^"]*")\s*/?>', meta, page, count=1)
    return replaced if count else page.replace("<head>", "<head>" + meta, 1)


def watched(config, config_path: Path, data_dir: Path, year: int) -> list[Path]:
    """What a change to rebuilds on: config, declarations, this year's and last year's data, notebooks, the library."""
    paths = [config_path, data_dir / TABLES_FILE, data_dir / str(year), config.notebooks_dir, Path(__file__).parents[1]]
    if (data_dir / str(year - 1)).is_dir():
        paths.append(data_dir / str(year - 1))
    return [p for p in paths if p.exists()]


def preview(config_path: str | Path, data_dir: str | Path, output_dir: str | Path, year: int | None = None, *,
            port: int = 8000, host: str | None = None, jobs: int | None = None, draft: bool = False,
            trusted: tuple = (), log: Callable[[str], None] = print) -> None:
    """Build ``year``, serve it, and rebuild on every change until Ctrl-C or SIGTERM (which the command line turns
    into KeyboardInterrupt: the kernels and the server are stopped on the way out)."""
    import watchfiles

    from ..build import manifest
    from ..build.builder import build_year, index_quietly
    from ..build.engine import KernelPool
    from ..build.plan import BuildOptions
    from ..core.config import load_config
    from ..core.context import kernel_environment
    from ..core.files import Lock
    from ..core.paths import resolve_year

    bind = host or "127.0.0.1"
    if host is not None and not _loopback(host):
        log(f"warning: serving on {host}: anyone who can reach this machine on port {port} can read the report and "
            "its drafts (the preview is meant for 127.0.0.1)")
    config_path = Path(config_path).resolve()
    data_dir, output_dir = Path(data_dir).resolve(), Path(output_dir).resolve()
    config = load_config(config_path, trusted=trusted)
    year = resolve_year(data_dir, year)
    options = BuildOptions(jobs=jobs, formats=("html",), draft=draft, log=log)
    state = _State(output_dir, year)
    restart = False

    def warm(config) -> KernelPool:  # kept warm for the whole session, whatever the first build needs
        return KernelPool(options.kernels, config.notebooks_dir, log=log, env=kernel_environment(config)).start()

    with Lock(output_dir / LOCK, f"{output_dir}: another preview is serving this output folder ({{holder}}); stop it, "
                                 "or preview into another --output-dir"):
        server = _Server(state, bind, port)
        port = server.start()
        kernels = warm(config)
        try:
            def rebuild(reason: str) -> None:
                log(f"Rebuilding {year}: {reason}")
                try:
                    build_year(config, year, data_dir, output_dir, options, runner=kernels)
                    state.publish(None)  # the open page reloads now; the folder's index follows
                    index_quietly(output_dir, config, log)
                    log(f"Preview updated: http://{bind}:{port}/")
                except AnnualReviewError as exc:
                    log(f"Rebuild failed (shown in the page):\n{exc}")
                    state.publish(str(exc))

            log(f"Preview of {config.title(year)}: http://{bind}:{port}/  (Ctrl-C to stop)")
            rebuild("first build")
            library = Path(__file__).parents[1].resolve()
            # raise_interrupt: Ctrl-C and SIGTERM reach the finally below, whatever the preview is doing.
            for changes in watchfiles.watch(*watched(config, config_path, data_dir, year), debounce=60, step=20,
                                            raise_interrupt=True, rust_timeout=500):
                changed = sorted({Path(path) for _, path in changes})
                if any(path.resolve().is_relative_to(library) for path in changed):
                    log("The library changed: restarting the preview")
                    restart = True
                    break
                if config_path in changed:
                    try:
                        config = load_config(config_path, trusted=trusted)
                    except AnnualReviewError as exc:
                        state.publish(str(exc))
                        continue
                    kernels.close()
                    kernels = warm(config)
                manifest.library_fingerprint.cache_clear()
                rebuild(", ".join(p.name for p in changed[:3]) + (" …" if len(changed) > 3 else ""))
        except KeyboardInterrupt:
            pass
        finally:
            kernels.close()
            server.stop()
    log("Preview stopped")
    if restart:
        os.execv(sys.executable, [sys.executable, "-m", "annual_review", *sys.argv[1:]])
