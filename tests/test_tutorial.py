"""The tutorial notebook (docs/tutorial.ipynb) runs from top to bottom; a cell that fails fails the test."""

import pytest

nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed (pip install -e .[dev])")
nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed (pip install -e .[dev])")


def execute(notebook, folder):
    """Run every cell of ``notebook`` in a fresh kernel with ``folder`` as its working folder;
    nbclient raises CellExecutionError at the first cell that fails."""
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(folder)}}).execute()
    return notebook


@pytest.mark.slow
def test_the_tutorial_runs_every_cell(request, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the notebook's work folder lands here
    notebook = nbformat.read(request.config.rootpath / "docs" / "tutorial.ipynb", as_version=4)
    execute(notebook, tmp_path)
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "w_label_accuracy" in text and "the whole report:" in text
    (report,) = tmp_path.glob("csvae-tutorial-*/toy/report.md")
    assert report.read_text().splitlines()[2].startswith("QUICK SMOKE TEST")


@pytest.mark.slow
def test_a_cell_that_fails_fails_the_run(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"),
                                               nbformat.v4.new_code_cell("raise ValueError('a broken step')"),
                                               nbformat.v4.new_code_cell("y = 2")])
    with pytest.raises(nbclient.exceptions.CellExecutionError, match="a broken step"):
        execute(notebook, tmp_path)
