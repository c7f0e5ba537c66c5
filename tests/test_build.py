"""The build as a user meets it: bad input and failing sections are named, and never cost the last good report."""

import re
import shutil
from html.parser import HTMLParser
import textwrap

import nbformat
import pytest

from conftest import FIXTURES, run_cli, squash, visible_text



def test_a_failing_section_is_named_and_the_last_good_report_kept(project):
    assert run_cli("build", cwd=project).returncode == 0
    report = project / "outputs" / "2020" / "report.html"
    good = report.read_bytes()
    # Add a section whose notebook fails in its third cell (tests/fixtures/broken.ipynb).
    shutil.copy(FIXTURES / "broken.ipynb", project / "notebooks" / "85-broken.ipynb")
    config = project / "report.yml"
    config.write_text(
        config.read_text(encoding="utf-8") + "  - heading: 坏章节\n    notebook: 85-broken.ipynb\n", encoding="utf-8"
    )

    result = run_cli("build", cwd=project)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "85-broken.ipynb" in result.stderr and "cell 3" in result.stderr and "KeyError: 'inspections'" in result.stderr
    assert "90-next-steps.ipynb" in result.stdout  # the sections after it still ran
    assert report.read_bytes() == good  # the last good report is untouched
    failed = project / "outputs" / "2020" / "failed" / "85-broken.ipynb"
    notebook = nbformat.read(failed, as_version=4)
    failing = next(c for c in notebook.cells if 'registers["inspections"]' in c.source)
    assert failing.outputs[-1].output_type == "error" and failing.outputs[-1].ename == "KeyError"


def test_invalid_data_is_refused_before_any_notebook_runs(project):
    assert run_cli("build", cwd=project).returncode == 0
    report = project / "outputs" / "2020" / "report.html"
    good = report.read_bytes()
    path = project / "data" / "2020" / "tutoring_inspections.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    fields = lines[3].split(",")
    fields[4] = "-2"  # a negative count in row 4
    lines[3] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = run_cli("build", cwd=project)

    assert result.returncode == 2
    assert "tutoring_inspections.csv, row 4, column E「staff_deployed」出动人次: '-2'" in result.stderr
    assert "Traceback" not in result.stderr
    assert "ipynb" not in result.stdout  # no section was executed
    assert report.read_bytes() == good
    assert not (project / "outputs" / "2020" / "failed").exists()


def test_missing_placeholder_fails_the_build_naming_the_narrative(project):
    path = project / "data" / "2020" / "narrative" / "opening.md"
    path.write_text(path.read_text(encoding="utf-8") + "\n共{{ visits }}次。\n", encoding="utf-8")
    result = run_cli("build", "--output-dir", str(project / "out"), cwd=project)
    assert result.returncode != 0
    assert "00-opening.ipynb" in result.stderr and "opening.md" in result.stderr and "visits" in result.stderr
    assert not (project / "out" / "2020" / "report.html").exists()


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--data-dir", "nowhere"], "nowhere: the data folder does not exist"),
        (["--year", "1999"], "no data for 1999"),
        (["--config", "missing.yml"], "missing.yml: the report config does not exist"),
    ],
)
def test_bad_arguments_get_a_plain_error(args, expected):
    result = run_cli("build", *args)
    assert result.returncode != 0
    assert expected in result.stderr and "Traceback" not in result.stderr


def test_another_outline_is_only_config_notebooks_and_data(tmp_path):
    """The five items the 2019 rules list, built from a config, one fixture notebook and narratives: no library change."""
    outline = ["主要举措和成效", "存在的不足和原因", "党政主要负责人履行推进法治建设第一责任人职责情况", "下一年度工作安排", "其他需要报告的情况"]
    data = tmp_path / "data"
    (data / "2021" / "narrative").mkdir(parents=True)
    (data / "tables.yml").write_text("{}\n", encoding="utf-8")
    sections = []
    for i, heading in enumerate(outline, 1):
        (data / "2021" / "narrative" / f"item{i}.md").write_text(f"第{i}项内容,{{{{ year }}}}年。\n", encoding="utf-8")
        sections.append(f"  - id: item{i}\n    heading: {heading}\n    notebook: narrative.ipynb\n    parameters: {{section: item{i}}}\n")
    config = tmp_path / "other.yml"
    config.write_text(
        textwrap.dedent(
            f"""\
            body: 某某市司法局
            title: "{{body}}{{year}}年法治政府建设年度报告"
            notebooks: {FIXTURES}
            sections:
            """
        )
        + "".join(sections),
        encoding="utf-8",
    )
    result = run_cli("build", "--config", str(config), "--data-dir", str(data), "--output-dir", str(tmp_path / "out"),
                     "--trust-folder", str(FIXTURES))  # the fixtures' notebooks live outside this config's folder
    assert result.returncode == 0, result.stderr
    html = (tmp_path / "out" / "2021" / "report.html").read_text(encoding="utf-8")
    assert squash(visible_text(html)).startswith("某某市司法局2021年法治政府建设年度报告")
    headings = [squash(visible_text(h)) for h in re.findall(r"<h2[^>]*>.*?</h2>", html, flags=re.S)]
    assert headings == [f"{n}{h}" for n, h in zip(["一、", "二、", "三、", "四、", "五、"], outline)]
    text = squash(visible_text(html))
    assert all(f"第{i}项内容,2021年。" in text for i in range(1, 6))


def test_a_character_no_font_can_draw_fails_the_build(project):
    path = project / "data" / "2020" / "narrative" / "opening.md"
    path.write_text(path.read_text(encoding="utf-8") + "\n符号\U00013000。\n", encoding="utf-8")
    result = run_cli("build", cwd=project)
    assert result.returncode == 1
    assert "U+13000" in result.stderr and "would print as boxes" in result.stderr
    assert not (project / "outputs" / "2020" / "report.html").exists()


def test_markup_in_narrative_shows_as_text_and_runs_nothing(project):
    path = project / "data" / "2020" / "narrative" / "opening.md"
    text = path.read_text(encoding="utf-8")
    pictured = '<script>alert(1)</script> <img src=x onerror="alert(2)"> <a href=#x>点击</a>'  # refused (#20)
    path.write_text(text + "\n" + pictured + "\n", encoding="utf-8")
    refused = run_cli("build", "--format", "html", cwd=project)
    assert refused.returncode == 1 and "an HTML tag that would fetch or link" in refused.stderr
    hostile = '<b onclick="alert(2)">粗</b> <style>main{display:none}</style> <i>斜</i>'
    path.write_text(text + "\n" + hostile + "\n", encoding="utf-8")
    assert run_cli("build", "--format", "html", cwd=project).returncode == 0
    html = (project / "outputs" / "2020" / "report.html").read_text(encoding="utf-8")

    class Tags(HTMLParser):
        found: list = []

        def handle_starttag(self, tag, attrs):
            self.found.append((tag, dict(attrs)))

    tags = Tags()
    tags.feed(html)
    assert not [t for t, _ in tags.found if t == "script"]
    assert not [a for _, attrs in tags.found for a in attrs if a.startswith("on")]
    assert not [t for t, _ in tags.found if t == "b"] and "main{display:none}" not in html.split("</head>")[0]
    assert hostile.replace('"', "") in visible_text(html).replace('"', "")  # shown to the reader as the text it is


def test_a_rebuild_of_one_section_gives_the_report_a_full_build_gave(project):
    # A rebuild that runs one section starts one kernel readied for that section only (no warm-up to share): the
    # report it publishes is the one the full build published, but for the line that says when and how it was built.
    assert run_cli("build", "--format", "html", cwd=project).returncode == 0
    report = project / "outputs" / "2020" / "report.html"
    before = report.read_text(encoding="utf-8")
    notebook = project / "notebooks" / "50-dispute-resolution.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("（一处说明，不进入报告。）"))  # the notebook changed, not what it shows
    nbformat.write(nb, notebook)
    again = run_cli("build", "--format", "html", cwd=project)
    assert again.returncode == 0, again.stderr
    ran = [line for line in again.stdout.splitlines() if re.match(r"\[\d+/\d+\]", line) and " ran " in line]
    assert len(ran) == 1 and "50-dispute-resolution.ipynb" in ran[0] and "notebook changed" in ran[0]

    def unstamped(html: str) -> str:
        return re.sub(r"annual-review [^<>]*?built \d{4}-\d\d-\d\d \d\d:\d\d", "", html)

    after = report.read_text(encoding="utf-8")
    assert "1 run, 10 reused" in after
    assert unstamped(after) == unstamped(before)
