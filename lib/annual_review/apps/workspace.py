"""Many bodies × many years: a workspace, built on this machine's warm kernels or on a Dask cluster.

``workspace.yml`` lists the bodies a city's or province's rule-of-law office oversees::

    bodies:
      - {name: 某某区教育局, config: edu/report.yml, data: edu/data}
      - 某某区司法局            # the same as {name: 某某区司法局, config: 某某区司法局/report.yml, data: 某某区司法局/data}
    indicators: {table: key_figures, label: indicator, value: value, unit: unit}  # shared headline figures (optional)

``annual-review build --workspace workspace.yml [--all | --year Y…] [--body NAME…]``
builds every body × year asked for into ``<output-dir>/<body>/<year>/`` — the same
outputs, cache and manifest as a single body's build — while saying how many are done,
running and failed; one failing body or year never stops the others. By default the
work runs on this machine's warm kernels; ``--scheduler tcp://host:8786`` sends it to a
Dask cluster (``--scheduler local`` starts one here). The workspace's ``index.html``
lists every body × year with its files and status, the headline indicators bodies
share side by side with their totals, and each body's check against the 2019 rules.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..build.builder import build_year, index_quietly
from ..build.plan import BuildOptions
from ..build.progress import Progress
from ..core import yamlfile
from ..core.config import load_config
from ..core.paths import available_years
from .site import number
from ..core.exceptions import AnnualReviewError, BuildError, ConfigError

DEFAULT_INDICATORS = {"table": "key_figures", "label": "indicator", "value": "value", "unit": "unit"}


@dataclass(frozen=True)
class Body:
    name: str
    config: Path
    data: Path


@dataclass
class Workspace:
    path: Path
    bodies: list[Body]
    indicators: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_INDICATORS))


def load_workspace(path: str | Path) -> Workspace:
    """Read ``workspace.yml``; paths are relative to it. Raise ConfigError naming every problem."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: the workspace file does not exist")
    try:
        raw, _ = yamlfile.load(path)
    except Exception as exc:  # noqa: BLE001 - YAML errors and the limits, said the same way
        raise ConfigError(f"{path}: not a readable workspace file: {exc}") from None
    if not isinstance(raw, Mapping) or not isinstance(raw.get("bodies"), list) or not raw["bodies"]:
        raise ConfigError(f"{path}: expected 'bodies:', a list of names or {{name, config, data}}")
    base, bodies, problems = path.parent.resolve(), [], []
    for i, item in enumerate(raw["bodies"], 1):
        if isinstance(item, str):
            item = {"name": item, "config": f"{item}/report.yml", "data": f"{item}/data"}
        if not isinstance(item, Mapping) or not all(isinstance(item.get(k), str) for k in ("name", "config", "data")):
            problems.append(f"{path}: body {i}: give a name, or name, config and data")
            continue
        if any(c in item["name"] for c in "/\\") or item["name"] in (".", ".."):
            problems.append(f"{path}: body {i}: {item['name']!r} cannot name a folder of the outputs")
            continue
        bodies.append(Body(item["name"], (base / item["config"]).resolve(), (base / item["data"]).resolve()))
    names = [b.name for b in bodies]
    problems += [f"{path}: body {n!r} is listed twice" for n in sorted({n for n in names if names.count(n) > 1})]
    if problems:
        raise ConfigError("\n".join(problems))
    return Workspace(path.resolve(), bodies, {**DEFAULT_INDICATORS, **(raw.get("indicators") or {})})


@dataclass
class Outcome:
    body: str
    year: int | None
    status: str = "pending"  # pending, running, built, failed
    error: str = ""
    exit_code: int = 0  # 2: its input was refused; 1: its build failed
    detail: str = ""  # said after its status: "up to date" when nothing needed building

    def line(self) -> str:
        said = f"{self.body} {self.year or ''}: {self.status}" + (f" ({self.detail})" if self.detail else "")
        return said + (" — " + self.error.splitlines()[0][:160] if self.error else "")


def build_workspace(workspace_path: str | Path, output_dir: str | Path, years: list[int] | None = None, *,
                    all_years: bool = False, bodies: list[str] | None = None, scheduler: str | None = None,
                    options: BuildOptions | None = None, **settings) -> list[Outcome]:
    """Build every body × year asked for; return each one's outcome. Raise BuildError at the end if any failed.

    ``options`` (or its fields as keywords) say how, as for :func:`annual_review.build.builder.build`."""
    options = replace(options or BuildOptions(), **settings)
    log = options.log
    workspace = load_workspace(workspace_path)
    chosen = [b for b in workspace.bodies if not bodies or b.name in bodies]
    unknown = sorted(set(bodies or []) - {b.name for b in workspace.bodies})
    if unknown:
        raise ConfigError(f"{workspace.path}: no body named {unknown} (bodies: {[b.name for b in workspace.bodies]})")
    output_dir = Path(output_dir).resolve()
    work, outcomes, configs = [], [], {}
    for body in chosen:
        try:
            configs[body.name] = load_config(body.config)
            found = available_years(body.data)
            wanted = found if all_years else [y for y in (years or [found[-1]] if found else []) if y in found]
            if not wanted:
                raise BuildError(f"{body.data}: no data for {years or 'any year'} (years available: {found})")
            work += [(body, year) for year in wanted]
        except AnnualReviewError as exc:
            outcomes.append(Outcome(body.name, None, "failed", str(exc), exc.exit_code))
    if "pdf" in options.formats:
        from ..build.pdf import check_pdf_support

        check_pdf_support()
    tally = Progress(len(work) + len(outcomes), log, unit="report", tally=True)
    for outcome in outcomes:
        tally.report(outcome.line(), failed=True)
    if scheduler:
        from ..build.cluster import ClusterExecutor

        # Each body-year is one task: its checks, sections and render on a worker; packing and publishing here.
        runner = ClusterExecutor(scheduler, log=log)
        lanes = runner.threads * 2  # a body-year packed or published here while each worker thread builds another
    else:
        from ..build.engine import KernelPool

        # One pool for every body: each section runs in its own body's notebooks folder with its own environment.
        runner = KernelPool(options.kernels, Path(workspace.path).parent, log=log)
        lanes = 2  # a second body-year is checked and rendered while the first's sections run
    with runner:
        def one(body: Body, year: int) -> Outcome:
            outcome = Outcome(body.name, year, "running")
            tally.started()
            lines: list[str] = []
            said = replace(options, log=lines.append)
            try:
                if scheduler:
                    _on_cluster(runner, configs[body.name], year, body.data, output_dir / body.name, said)
                else:
                    build_year(configs[body.name], year, body.data, output_dir / body.name, said, runner=runner)
                outcome.status = "built"
                up_to_date = [line for line in lines if line.startswith("Nothing changed")]
                outcome.detail = "up to date" + (", nothing sent" if scheduler else "") if up_to_date else ""
            except AnnualReviewError as exc:
                outcome.status, outcome.error, outcome.exit_code = "failed", str(exc), exc.exit_code
            except Exception as exc:  # noqa: BLE001 - one body-year's fault never stops the others; ours is kept
                outcome.status, outcome.exit_code = "failed", 1
                outcome.error = f"{type(exc).__name__}: {exc}\n{''.join(traceback.format_exception(exc))}"
            tally.report(outcome.line(), failed=outcome.status == "failed", started=True)
            so_far.finished(outcome)
            return outcome

        so_far = _IndexSoFar(workspace, output_dir, configs, work, list(outcomes))

        threads = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(lanes, len(work) or 1)))
        futures = [threads.submit(one, body, year) for body, year in work]
        try:
            outcomes += [f.result() for f in futures]
        except BaseException:  # Ctrl-C, SIGTERM: the kernels first (each body-year then stops), nothing more started
            runner.close()
            raise
        finally:
            threads.shutdown(wait=False, cancel_futures=True)
    for body in chosen:
        if body.name in configs:
            index_quietly(output_dir / body.name, configs[body.name], log)
    write_city_site(workspace, output_dir, configs, outcomes, log)
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        error = BuildError(f"{len(failed)} of {len(outcomes)} body-years failed; the others were built:\n" + "\n".join(
            f"--- {o.body} {o.year or ''}:\n{o.error}" for o in failed))
        error.exit_code = max(o.exit_code or 1 for o in failed)
        raise error
    log(f"Workspace built: {output_dir / 'index.html'}")
    return outcomes


def _on_cluster(executor, config, year: int, data_dir: Path, output_dir: Path, options: BuildOptions) -> None:
    """A body-year built on the cluster: sent only if its inputs changed since its last build, published here."""
    from ..build import remote

    job = remote.pack(config, year, data_dir, output_dir, options)
    if job is None:
        options.log("Nothing changed: the report is up to date.")
        return
    remote.publish(job, executor.build(job), output_dir, options.log)


def shared_indicators(workspace: Workspace, configs: Mapping, year: int, bodies: list[str],
                      left_out: dict[str, str] | None = None) -> tuple[list, dict]:
    """The headline indicators every body keeping the table has for ``year``: rows (indicator, unit) and values by body.

    A body among ``bodies`` whose figures cannot be had is put in ``left_out`` with the reason, so a total over
    the others never passes for the whole."""
    from ..registers.reading import load_table
    from ..registers.schemas import table_specs

    spec = workspace.indicators
    left_out = left_out if left_out is not None else {}
    values: dict[str, dict[str, tuple[float, str]]] = {}
    for body in workspace.bodies:
        if body.name not in bodies:
            continue
        try:
            if spec["table"] not in table_specs(body.data):
                left_out[body.name] = f"它不登记“{spec['table']}”表 (it keeps no table '{spec['table']}')"
                continue
            table = load_table(body.data, year, spec["table"])
        except AnnualReviewError as exc:
            left_out[body.name] = f"其数据未能读取 (its data could not be read: {str(exc).splitlines()[0][:120]})"
            continue
        values[body.name] = {str(r[spec["label"]]): (float(r[spec["value"]]), str(r[spec["unit"]]))
                             for r in table.to_dict("records")}
    if not values:
        return [], {}
    common = [i for i in next(iter(values.values())) if all(i in v for v in values.values())]
    rows = [(i, next(iter(values.values()))[i][1]) for i in common]
    return rows, values


def problem_text(error: str, lines: int = 40) -> str:
    """A failed body-year's whole problem as the city index shows it: every problem it names (file, sheet, row,
    column), not only its heading; a long traceback cut to its first ``lines`` lines, and said so."""
    kept = error.strip().splitlines()
    return "\n".join(kept[:lines] + ([f"…（另有{len(kept) - lines}行，见该单位的构建输出）"] if len(kept) > lines else []))


def _first_problem(error: str) -> str:
    """The first problem an error names (not its heading, "2 problem(s) in …:"), shortened for a page."""
    lines = [line.strip(" -") for line in error.splitlines() if line.strip(" -")]
    first = lines[1] if len(lines) > 1 and lines[0].endswith(":") else lines[0] if lines else ""
    return first[:160]


def write_city_site(workspace: Workspace, output_dir: Path, configs: Mapping, outcomes: list[Outcome],
                    log: Callable[[str], None] = print) -> Path:
    """The city's site: its index, the search over every report built (:mod:`.site`) and the shared indicators."""
    import time

    from . import site

    started = time.perf_counter()
    records, languages = [], {}
    for outcome in outcomes:
        config = configs.get(outcome.body)
        folder = output_dir / outcome.body / str(outcome.year)
        if outcome.status != "built" or config is None or not (folder / site.REPORT_FILE).is_file():
            continue
        records += site.report_records(outcome.body, outcome.year, folder, f"{outcome.body}/{outcome.year}",
                                       config.title(outcome.year))
        languages[config.language.split("-")[0]] = True
    # Pagefind's program indexes in a process of its own while this one writes the index and draws the indicators.
    failed: list[Exception] = []
    searching = threading.Thread(target=_search_index, args=(output_dir, records, next(iter(languages), ""), failed),
                                 name="search-index", daemon=True)
    if records:
        searching.start()
    index = write_workspace_index(workspace, output_dir, configs, outcomes, searchable=bool(records), log=log)
    if records:
        searching.join()
    searchable = bool(records) and not failed
    if failed:  # the reports stand; the search not written is said, not hidden, and the index links no search
        log(f"warning: {output_dir / site.SEARCH_PAGE} was not written (the search index could not be made: "
            f"{type(failed[0]).__name__}: {failed[0]}); the index links every report all the same")
        index = write_workspace_index(workspace, output_dir, configs, outcomes, searchable=False, log=log)
    if searchable:
        site.write_search_page(output_dir, len(records), next(iter(languages)),
                               indicators=(output_dir / site.INDICATORS_PAGE).is_file())
    log(f"Site written in {time.perf_counter() - started:.1f} s: {len(records)} search entries"
        + ("" if searchable else " (no search page)"))
    return index


def _search_index(output_dir: Path, records: list, language: str, failed: list) -> None:
    from . import site

    try:
        site.write_search_index(output_dir, records, language)
    except Exception as exc:  # noqa: BLE001 - said by the caller
        failed.append(exc)


class _IndexSoFar:
    """The city index while the build runs: every body-year's state as it finishes (a partial run is readable), at
    most every few seconds (each write reads every finished body-year's record)."""

    EVERY = 2.0  # seconds

    def __init__(self, workspace: Workspace, output_dir: Path, configs: Mapping, work: list, outcomes: list[Outcome]):
        self.workspace, self.output_dir, self.configs = workspace, output_dir, configs
        self.waiting = {(body.name, year) for body, year in work}
        self.outcomes = outcomes
        self.lock = threading.Lock()
        self.written = 0.0
        self.every = self.EVERY
        self.rows: dict = {}  # each finished body-year's row, read once

    def finished(self, outcome: Outcome) -> None:
        import time

        with self.lock:
            self.outcomes.append(outcome)
            self.waiting.discard((outcome.body, outcome.year))
            if not self.waiting or time.monotonic() - self.written < self.every:
                return  # (the last one: the whole index follows at once)
            started = time.monotonic()
            pending = [Outcome(body, year, "waiting") for body, year in sorted(self.waiting)]
            try:
                write_workspace_index(self.workspace, self.output_dir, self.configs, self.outcomes + pending, partial=True,
                                      rows_known=self.rows)
            except OSError:
                pass  # (a progress page: the full index is written at the end, and its failure is said then)
            self.written = time.monotonic()
            # Never more than a twentieth of the client's time, however many bodies the page lists.
            self.every = max(self.EVERY, 20 * (self.written - started))


def write_workspace_index(workspace: Workspace, output_dir: Path, configs: Mapping, outcomes: list[Outcome],
                          searchable: bool = False, log: Callable[[str], None] = print, partial: bool = False,
                          rows_known: dict | None = None) -> Path:
    """The city's view: every body × year with its files and status, shared indicators with totals, the rules check;
    each shared indicator across bodies and years on its own page (:func:`.site.write_indicators`).

    ``rows_known``: the rows of body-years already finished, kept between the pages written while a build runs."""
    from . import site
    from ..build import manifest, rules
    from ..build.index import Cell, Table, built_at, index_page, report_links
    from ..core.config import REQUIRED_ITEMS

    rows, years = [], sorted({o.year for o in outcomes if o.year})
    status = {(o.body, o.year): o for o in outcomes}
    years_of: dict[str, set] = {}
    for o in outcomes:
        if o.year:
            years_of.setdefault(o.body, set()).add(o.year)
    rows_known = rows_known if rows_known is not None else {}
    for body in workspace.bodies:
        for year in sorted(years_of.get(body.name, ()), reverse=True):
            outcome = status[(body.name, year)]
            known = (body.name, year, outcome.status, outcome.error)
            if known not in rows_known:
                folder = output_dir / body.name / str(year)
                record = manifest.BuildRecord.load(folder)
                state = {"built": "已生成", "failed": "生成失败", "waiting": "生成中"}.get(outcome.status, "未生成")
                why = problem_text(outcome.error) if outcome.error else ""
                rows_known[known] = [Cell(body.name), Cell(str(year)), Cell(state, note=why),
                                     Cell(links=report_links(folder, record, f"{body.name}/{year}")), Cell(built_at(record))]
            rows.append(rows_known[known])
        failed_body = status.get((body.name, None))
        if failed_body:
            rows.append([Cell(body.name), Cell("—"), Cell("生成失败", note=problem_text(failed_body.error)),
                         Cell(), Cell()])
    tables = [Table("各单位报告", ("单位", "年度", "状态", "文件", "生成时间"), rows)]
    if partial:  # while the build runs: the states so far; the indicators and the rules' check come at the end
        from ..core.files import write_atomic
        from ..core.outputs import INDEX

        waiting = sum(1 for o in outcomes if o.status == "waiting")
        intro = (f"构建进行中：已完成{len(outcomes) - waiting}份，尚有{waiting}份（本页随构建更新，完成后列出主要指标与检查）。")
        return write_atomic(output_dir / INDEX, index_page("法治政府建设年度报告汇总", tables, intro=intro, width=64))
    built = {o.body for o in outcomes if o.status == "built"}
    every_year: dict[int, dict] = {}
    order: list[str] = []
    for year in sorted(years, reverse=True):
        names = [b.name for b in workspace.bodies if (b.name, year) in status and status[(b.name, year)].status == "built"]
        left_out = {b.name: f"其{year}年报告生成失败 (its {year} report failed: {_first_problem(status[(b.name, year)].error)})"
                    for b in workspace.bodies if (b.name, year) in status and status[(b.name, year)].status == "failed"}
        indicators, values = shared_indicators(workspace, configs, year, names, left_out)
        if not indicators:
            continue
        shown = [n for n in names if n in values]
        every_year[year] = {n: {i: values[n][i] for i, _ in indicators} for n in shown}
        order += [i for i, _ in indicators if i not in order]
        lines = []
        for indicator, unit in indicators:
            cells = [values[n][indicator][0] for n in shown]
            units = {values[n][indicator][1] for n in shown}
            total = number(sum(cells)) if len(units) == 1 else "—"
            lines.append([Cell(f"{indicator}（{unit}）", header=True), *(Cell(number(c), kind="num") for c in cells),
                          Cell(total, kind="num total")])
        tables.append(Table(f"{year}年主要指标（各单位共有）", ("指标", *shown, "合计（部分单位）" if left_out else "合计"), lines,
                            kind="shared", left_out=tuple(f"{name}：{why}" for name, why in left_out.items())))
    checks = []
    for body in workspace.bodies:
        config = configs.get(body.name)
        if config is None or body.name not in built:
            continue
        for year in sorted({o.year for o in outcomes if o.body == body.name and o.status == "built"}, reverse=True):
            found = rules.gaps(config, body.data, year)
            built_on = built_at(manifest.BuildRecord.load(output_dir / body.name / str(year)))[:10]
            timely = "是" if built_on and dt.date.fromisoformat(built_on) <= rules.deadline(year) else "否"
            said = {"uncovered": "缺少", "empty": "本年度为空"}
            covered = ("未声明各部分对应的必报内容（covers）" if found == [("undeclared", "")] else
                       "；".join(f"{said[kind]}：{REQUIRED_ITEMS[item]}" for kind, item in found) or "必报内容均已覆盖")
            checks.append([Cell(body.name), Cell(str(year)), Cell(covered),
                           Cell(f"{timely}（截止{rules.deadline(year)}，生成于{built_on or '—'}）")])
    tables.append(Table("《法治政府建设与责任落实督察工作规定》检查", ("单位", "年度", "必报内容", "在次年4月1日前生成"), checks))
    intro = (f"{len(workspace.bodies)} 个单位；{sum(1 for o in outcomes if o.status == 'built')} 份报告已生成，"
             f"{sum(1 for o in outcomes if o.status == 'failed')} 份生成失败。")
    from ..core.files import write_atomic
    from ..core.outputs import INDEX

    rows_of_indicators = site.indicator_rows(every_year)
    nav = [(label, href) for label, href, shown in (
        ("搜索", site.SEARCH_PAGE, searchable),
        ("主要指标对比", site.INDICATORS_PAGE, bool(rows_of_indicators)),
        ("主要指标下载（CSV）", site.INDICATORS_CSV, bool(rows_of_indicators))) if shown]
    if rows_of_indicators:
        site.write_indicators(output_dir, rows_of_indicators, order, log, searchable=searchable)
    else:
        site.remove_indicators(output_dir)
    return write_atomic(output_dir / INDEX, index_page("法治政府建设年度报告汇总", tables, intro=intro, width=64,
                                                       nav=tuple(nav)))
