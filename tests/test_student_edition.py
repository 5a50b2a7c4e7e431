"""The student edition: the same sources, built without any worked solution."""

import sys
from pathlib import Path

import nbformat
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from student_edition import SOLUTION_TAG, write_student_edition  # noqa: E402

from tests.conftest import build_book  # noqa: E402

TOP = Path(__file__).resolve().parents[1]
SOLUTIONS = TOP / "chapter19" / "what-is-hpo-solutions.ipynb"
#: Each section's one cell tagged as a solution: its link to the solutions page.
SOLUTION_LINKS = {
    f"chapter19/{name}": 1
    for name in ("what-is-hpo", "hyperopt-api", "rs-async", "sh-intro", "sh-async")
}


def tagged(notebook) -> list:
    return [c for c in notebook.cells if SOLUTION_TAG in c.metadata.get("tags", [])]


def test_every_cell_inside_a_solution_gate_is_tagged():
    for path in sorted((TOP / "chapter19").glob("*.ipynb")):
        inside = False
        for cell in nbformat.read(path, as_version=4).cells:
            opens = "{solution-start}" in cell.source
            closes = "{solution-end}" in cell.source
            if opens:
                assert not inside, f"{path.name}: nested solution-start"
                inside = True
            if inside:
                assert SOLUTION_TAG in cell.metadata.get("tags", []), cell.source[:80]
            if closes:
                assert inside, f"{path.name}: solution-end without a start"
                inside = False
        assert not inside, f"{path.name}: solution-start without an end"


def test_each_exercise_of_19_1_has_a_dropdown_solution():
    exercises = nbformat.read(TOP / "chapter19" / "what-is-hpo.ipynb", as_version=4)
    text = "\n".join(c.source for c in exercises.cells)
    labels = [line.split(":label:")[1].strip() for line in text.splitlines() if ":label:" in line]
    assert labels == ["ex-hpo-validation", "ex-hpo-gradient", "ex-hpo-grid"]
    solutions = nbformat.read(SOLUTIONS, as_version=4)
    starts = [c.source for c in solutions.cells if "{solution-start}" in c.source]
    assert starts == [f"```{{solution-start}} {label}\n:class: dropdown\n```" for label in labels]
    assert sum(c.cell_type == "code" for c in tagged(solutions)) >= 8


@pytest.fixture(scope="module")
def student_sources(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("student") / "src"
    return out, write_student_edition(out)


def test_sources_keep_no_solution(student_sources):
    out, removed = student_sources
    for section in SOLUTION_LINKS:
        assert not (out / f"{section}-solutions.ipynb").exists()
    assert removed == SOLUTION_LINKS
    for path in out.glob("**/*.ipynb"):
        notebook = nbformat.read(path, as_version=4)
        assert tagged(notebook) == []
        assert "solution-start" not in "".join(c.source for c in notebook.cells)
    toc = (out / "_toc.yml").read_text()
    assert "what-is-hpo-solutions" not in toc and "chapter19/what-is-hpo" in toc
    assert yaml.safe_load((out / "_config.yml").read_text())["title"].endswith("(student edition)")
    # The originals are untouched.
    assert tagged(nbformat.read(SOLUTIONS, as_version=4))


def test_student_edition_builds_without_warnings_or_solutions(student_sources, tmp_path):
    out, _ = student_sources
    html = build_book(out, tmp_path)
    pages = {p.relative_to(html).as_posix(): p.read_text() for p in html.glob("**/*.html")}
    assert "chapter19/what-is-hpo.html" in pages
    assert "chapter19/what-is-hpo-solutions.html" not in pages
    exercises = pages["chapter19/what-is-hpo.html"]
    assert exercises.count('class="exercise admonition"') == 3
    for page, text in pages.items():
        assert 'class="solution' not in text and "Solution to" not in text, page
        assert "tag_solution" not in text, page
    # Its launch links open the student reader edition, and Download serves it.
    student_notebook = "notebooks-student/chapter19/what-is-hpo.ipynb"
    assert f"/blob/main/{student_notebook}" in exercises
    assert "/blob/main/notebooks/" not in exercises
    served = (html / "_sources" / "chapter19" / "what-is-hpo.ipynb").read_bytes()
    assert served == (TOP / student_notebook).read_bytes()


def test_it_refuses_to_overwrite_what_it_did_not_write(tmp_path, student_sources):
    for forbidden in (TOP, TOP / "chapter19", TOP.parent):
        with pytest.raises(ValueError, match="must not overwrite"):
            write_student_edition(forbidden)
    (tmp_path / "mine").mkdir()
    with pytest.raises(ValueError, match="not written by this script"):
        write_student_edition(tmp_path / "mine")
    out, _ = student_sources
    assert write_student_edition(out) == SOLUTION_LINKS  # its own: replaced
