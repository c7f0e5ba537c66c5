"""Section notebooks: thin, committed without outputs, and each runs top to bottom with its defaults."""

import ast
import json

import nbformat
import papermill
import pytest

from annual_review.core.config import load_config
from conftest import CONFIG, NOTEBOOKS

NOTEBOOK_FILES = sorted(NOTEBOOKS.glob("*.ipynb"))


def test_every_notebook_is_a_section_of_the_config():
    configured = {s.notebook.name for s in load_config(CONFIG).executable_sections()}
    assert configured == {p.name for p in NOTEBOOK_FILES}


@pytest.mark.parametrize("path", NOTEBOOK_FILES, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


@pytest.mark.parametrize("path", NOTEBOOK_FILES, ids=lambda p: p.name)
def test_first_code_cell_holds_typed_commented_parameters(path):
    notebook = nbformat.read(path, as_version=4)
    first = next(c for c in notebook.cells if c.cell_type == "code")
    assert "parameters" in first.metadata.get("tags", [])
    statements = ast.parse(first.source).body
    assert statements and all(isinstance(s, ast.AnnAssign) for s in statements)
    assert all("#" in line for line in first.source.splitlines() if line.strip())
    names = {s.target.id for s in statements}
    assert {"year", "data_dir"} <= names


@pytest.mark.parametrize("path", NOTEBOOK_FILES, ids=lambda p: p.name)
def test_no_functions_or_classes_in_notebooks(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            for node in ast.walk(ast.parse(cell.source)):
                assert not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))


@pytest.mark.parametrize("path", NOTEBOOK_FILES, ids=lambda p: p.name)
def test_runs_top_to_bottom_with_default_parameters(path, tmp_path):
    """As an analyst would in JupyterLab: from the notebooks folder, nothing passed in."""
    executed = papermill.execute_notebook(
        str(path), str(tmp_path / path.name), cwd=str(NOTEBOOKS), kernel_name="python3",
        progress_bar=False, shutdown_kernel="immediate", extra_arguments=["--Application.log_level=ERROR"],
    )
    shown = [
        o for c in executed.cells if c.cell_type == "code" for o in c.outputs if "annual_review" in o.get("metadata", {})
    ]
    assert shown, "the notebook showed nothing for the report"
