"""The reader edition: the chapter's notebooks in plain Jupyter Markdown, outputs kept.

Each generated notebook is rendered by a MyST-unaware Markdown renderer (nbconvert's
HTMLExporter), and no MyST syntax may be left in what it shows. The committed editions
that the launch links open (notebooks/, notebooks-student/) must be what the script
writes from the current sources.
"""

import html
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbconvert import HTMLExporter

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from reader_edition import (  # noqa: E402
    MystError,
    NotebookState,
    convert_markdown,
    load_references,
    main,
    parse_bib,
    published_folders,
    write_reader_edition,
)

TOP = Path(__file__).resolve().parents[1]
SCRIPT = TOP / "scripts" / "reader_edition.py"
CHAPTER = TOP / "chapter19"
SOURCES = sorted(CHAPTER.glob("*.ipynb"))
MAIN = "what-is-hpo.ipynb"
SOLUTIONS = "what-is-hpo-solutions.ipynb"
SOLUTION_TAG = "solution"
UNCITED = {  # cite nothing
    "hyperopt-api-solutions.ipynb",
    "rs-async-solutions.ipynb",
    "sh-intro-solutions.ipynb",
    "sh-async-solutions.ipynb",
}

CITATION_ROLE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]*)`")
NAME = r"[^\W\d_][\w'’-]*"
AUTHOR_YEAR = re.compile(
    rf"{NAME}(?: and {NAME}| et al\.)?(?:, (?:1[89]|20)\d\d\b| \((?:1[89]|20)\d\d\))"
)
# What MyST leaves in a MyST-unaware rendering, as literal strings and as patterns.
MYST_STRINGS = ["{cite:", "{exercise}", "{solution-start}", "{solution-end}", ":label:", ":class:"]
MYST_IN_MARKDOWN = [
    re.compile(r"^\s*:::", re.M),  # a colon fence
    re.compile(r"^\s*```+\s*\{", re.M),  # a directive fence
    re.compile(r"\{[a-z-]+:?[a-z]*\}`"),  # a role
]
MYST_IN_HTML = [
    re.compile(r"^\s*:::", re.M),  # (in the text without tags)
    re.compile(r"```\{"),
    re.compile(r"language-\{"),  # a directive fence rendered as a code block
    re.compile(r"\{[a-z-]+:?[a-z]*\}(?:`|<code)"),  # a role, its content rendered as code
]


def markdown_of(notebook) -> str:
    return "\n\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")


def tags(cell) -> list[str]:
    return cell.metadata.get("tags", [])


def render_html(notebook) -> str:
    """The notebook as HTML, from a renderer that knows Markdown but not MyST."""
    # The basic template: the notebook alone, without the page's scripts.
    return HTMLExporter(template_name="basic").from_notebook_node(notebook)[0]


def myst_leftovers(notebook) -> list[str]:
    """The MyST syntax left in a notebook's Markdown and in its rendered HTML."""
    markdown, rendered = markdown_of(notebook), render_html(notebook)
    text = html.unescape(re.sub(r"<[^>]+>", "", rendered))
    found = [f"markdown: {s}" for s in MYST_STRINGS if s in markdown]
    found += [f"html: {s}" for s in MYST_STRINGS if s in rendered]
    for pattern in MYST_IN_MARKDOWN:
        if match := pattern.search(markdown):
            found.append(f"markdown: {pattern.pattern} {match[0]!r}")
    for pattern in MYST_IN_HTML:
        if match := pattern.search(text if pattern.pattern.startswith("^") else rendered):
            found.append(f"html: {pattern.pattern} {match[0]!r}")
    return found


def unlinked(markdown: str) -> str:
    """Markdown with each link replaced by its text, and lines joined."""
    return re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", markdown).replace("\n", " ")


def read(path: Path):
    return nbformat.read(path, as_version=4)


def files(folder: Path) -> dict[str, bytes]:
    paths = sorted(p for p in folder.rglob("*") if p.is_file())
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in paths}


@pytest.fixture(scope="module")
def editions(tmp_path_factory) -> dict:
    """Both editions, the reader edition written by main() and the student's by the command."""
    reader = tmp_path_factory.mktemp("reader") / "out"
    main([str(reader)])
    student = tmp_path_factory.mktemp("student") / "out"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(student), "--student"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return {"reader": reader, "student": student, "student_stdout": result.stdout}


def test_the_sources_hold_the_myst_that_the_checks_look_for():
    """The leftover check is not vacuous: it finds every kind of MyST in the sources."""
    found = "\n".join(
        myst_leftovers(read(CHAPTER / MAIN)) + myst_leftovers(read(CHAPTER / SOLUTIONS))
    )
    kinds = [f"markdown: {s}" for s in MYST_STRINGS] + [f"html: {s}" for s in MYST_STRINGS]
    kinds += [f"markdown: {p.pattern}" for p in MYST_IN_MARKDOWN]
    kinds += [f"html: {p.pattern}" for p in MYST_IN_HTML if p.pattern != r"```\{"]
    for kind in kinds:
        assert kind in found, kind


def test_the_command_reports_what_it_converted(editions):
    report = editions["student_stdout"].splitlines()
    source = markdown_of(read(CHAPTER / MAIN))
    cited = sum(len(keys.split(",")) for keys in CITATION_ROLE.findall(source))
    exercises = source.count(":::{exercise}")
    assert f"chapter19/what-is-hpo.ipynb: {cited} citations, {exercises} exercises" in report
    assert not [line for line in report if "solutions" in line]


def test_every_notebook_is_written_once(editions):
    reader = sorted(p.name for p in (editions["reader"] / "chapter19").glob("*.ipynb"))
    assert reader == [p.name for p in SOURCES]
    student = sorted(p.name for p in (editions["student"] / "chapter19").glob("*.ipynb"))
    assert student == [p.name for p in SOURCES if not p.name.endswith("-solutions.ipynb")]


@pytest.mark.parametrize("edition", ["reader", "student"])
def test_no_myst_is_left(editions, edition):
    for path in sorted((editions[edition] / "chapter19").glob("*.ipynb")):
        assert myst_leftovers(read(path)) == [], path.name


def test_every_citation_becomes_author_year(editions):
    for source in SOURCES:
        markdown = markdown_of(read(source))
        keys = [k for keys in CITATION_ROLE.findall(markdown) for k in keys.split(",")]
        assert keys or source.name in UNCITED, source.name
        converted = markdown_of(read(editions["reader"] / "chapter19" / source.name))
        added = len(AUTHOR_YEAR.findall(converted)) - len(AUTHOR_YEAR.findall(markdown))
        assert added == len(keys), source.name


def test_bergstra_and_bengio_2012(editions):
    bib = (TOP / "book" / "references.bib").read_text()
    entry = re.search(r"@\w+\{bergstra2012random,(.*?)\n\}", bib, re.S)[1]
    doi = re.search(r"\bdoi\s*=\s*\{([^}]*)\}", entry)
    url = re.search(r"\burl\s*=\s*\{([^}]*)\}", entry)
    link = f"https://doi.org/{doi[1]}" if doi else url[1]  # every entry has one of them
    main_notebook = markdown_of(read(editions["reader"] / "chapter19" / MAIN))
    solutions = markdown_of(read(editions["reader"] / "chapter19" / SOLUTIONS))
    assert f"[Bergstra and Bengio (2012)]({link})" in main_notebook
    assert f"([Bergstra and Bengio, 2012]({link}))" in solutions
    # Three or more authors, and several keys in one citation.
    text = unlinked(main_notebook)
    assert "(Bardenet et al., 2013; Feurer et al., 2022; Wistuba et al., 2018)" in text
    assert "curse of dimensionality (Bellman, 1966)," in text


def test_links_to_doi_and_url_render_as_links(tmp_path):
    """A made-up bibliography checks the parser and both kinds of link, DOI and URL."""
    bib = r"""
    @string{jmlr = "Journal of Machine Learning Research"}
    @comment{ ignored, with {braces} }
    @article{withdoi,
      author  = {Bergstra, James and Bengio, Yoshua},
      title   = {Random search for {hyper-parameter} optimization},
      journal = jmlr # " 13",
      year    = 2012,
      doi     = {https://doi.org/10.5555/2188385.2188395},
    }
    @inproceedings{withurl,
      author = "Bardenet, R{\'e}mi and Brendel, M{\'a}ty{\'a}s and K{\'e}gl, Bal{\'a}zs",
      year = {2013},
      url = {https://proceedings.mlr.press/v28/bardenet13\_paper~(1).html}
    }
    @book{nothing, editor = {Kotthoff, Lars and {van der Berg}, Jan}, year = {2019}}
    @misc{accent, author = {Jos{\'e} M. Hern{\'a}ndez-Lobato and G. Kov{\'{a}}cs and
      {\"O}zt{\"u}rk, {\AA}se}, year = {2020}}
    """
    entries = parse_bib(bib)
    assert set(entries) == {"withdoi", "withurl", "nothing", "accent"}
    assert entries["withdoi"]["title"] == "Random search for {hyper-parameter} optimization"
    assert entries["withdoi"]["journal"] == "Journal of Machine Learning Research 13"
    assert entries["withdoi"]["year"] == "2012" and entries["withdoi"]["ENTRYTYPE"] == "article"

    (tmp_path / "references.bib").write_text(bib)
    state = NotebookState(load_references(tmp_path / "references.bib"))
    text = convert_markdown(
        "See {cite:t}`withdoi`, {cite:p}`withurl,nothing` and {cite:p}`accent`.", state
    )
    assert text == (
        "See [Bergstra and Bengio (2012)](https://doi.org/10.5555/2188385.2188395), "
        "([Bardenet et al., 2013](https://proceedings.mlr.press/v28/bardenet13_paper~%281%29.html);"
        " Kotthoff and van der Berg, 2019) and (Hernández-Lobato et al., 2020)."
    )
    assert state.citations == ["withdoi", "withurl", "nothing", "accent"]
    rendered = render_html(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text)]))
    assert '<a href="https://doi.org/10.5555/2188385.2188395">Bergstra and Bengio (2012)</a>' in (
        rendered
    )
    assert ">Bardenet et al., 2013</a>" in rendered


def test_exercises_are_numbered_in_order(editions):
    source = markdown_of(read(CHAPTER / MAIN))
    count = source.count(":::{exercise}")
    assert count == 3
    for edition in ("reader", "student"):
        converted = markdown_of(read(editions[edition] / "chapter19" / MAIN))
        numbers = re.findall(r"^\*\*Exercise (\d+)\*\*$", converted, re.M)
        assert numbers == [str(n) for n in range(1, count + 1)]
        # Each heading is followed by its exercise's text, and the labels are gone.
        assert re.search(r"\*\*Exercise 1\*\*\n\nIn this chapter, we optimize", converted)
        assert re.search(r"\*\*Exercise 3\*\*\n\nGrid search is another HPO baseline", converted)
    rendered = render_html(read(editions["reader"] / "chapter19" / MAIN))
    assert rendered.count("<strong>Exercise ") == count


def test_solutions_are_marked_and_kept(editions):
    source = read(CHAPTER / SOLUTIONS)
    converted = read(editions["reader"] / "chapter19" / SOLUTIONS)
    starts = sum("{solution-start}" in c.source for c in source.cells)
    ends = sum("{solution-end}" in c.source for c in source.cells)
    assert starts == ends == 3
    assert [c.source for c in converted.cells].count("**Solution.**") == starts
    # Only the cells that held nothing but a solution-end fence are gone.
    assert len(converted.cells) == len(source.cells) - ends
    fences = [c for c in source.cells if "{solution-" in c.source]
    kept = [c for c in source.cells if c not in fences]
    rest = [c for c in converted.cells if c.source != "**Solution.**"]
    assert [tags(c) for c in rest] == [tags(c) for c in kept]
    for before, after in zip(kept, rest, strict=True):
        if "{cite" not in before.source:
            assert after == before


def test_links_between_notebooks_stay(editions):
    main_notebook = markdown_of(read(editions["reader"] / "chapter19" / MAIN))
    assert "[Solutions to the exercises](what-is-hpo-solutions.ipynb)" in main_notebook
    solutions = markdown_of(read(editions["reader"] / "chapter19" / SOLUTIONS))
    assert "[exercises of section 19.1](what-is-hpo.ipynb)" in solutions


@pytest.mark.parametrize("edition", ["reader", "student"])
def test_code_outputs_and_metadata_are_kept(editions, edition):
    for path in sorted((editions[edition] / "chapter19").glob("*.ipynb")):
        source, converted = read(CHAPTER / path.name), read(path)
        assert converted.metadata == source.metadata
        code = [c for c in source.cells if c.cell_type == "code"]
        if edition == "student":
            code = [c for c in code if SOLUTION_TAG not in tags(c)]
        assert [c for c in converted.cells if c.cell_type == "code"] == code
        assert sum(len(c.outputs) for c in code) > 0
        # Markdown without MyST is unchanged.
        plain = [
            c
            for c in source.cells
            if c.cell_type == "markdown" and not re.search(r"\{cite|:::|```\{", c.source)
        ]
        assert plain
        for cell in plain:
            if edition == "reader" or SOLUTION_TAG not in tags(cell):
                assert cell in converted.cells


def test_the_student_edition_has_no_solution(editions):
    folder = editions["student"] / "chapter19"
    assert not list(folder.glob("*-solutions.ipynb"))
    source = read(CHAPTER / MAIN)
    assert any(SOLUTION_TAG in tags(c) for c in source.cells)
    notebook = read(folder / MAIN)
    assert not [c for c in notebook.cells if SOLUTION_TAG in tags(c)]
    assert "what-is-hpo-solutions.ipynb" not in markdown_of(notebook)
    assert "**Solution.**" not in markdown_of(notebook)
    dropped = sum(SOLUTION_TAG in tags(c) for c in source.cells)
    assert len(notebook.cells) == len(source.cells) - dropped


def test_two_runs_write_the_same_bytes(editions, tmp_path):
    for edition, flags in [("reader", []), ("student", ["--student"])]:
        again = tmp_path / edition
        command = [sys.executable, str(SCRIPT), str(again), *flags]
        subprocess.run(command, check=True, capture_output=True)
        assert files(again) == files(editions[edition])
        subprocess.run(command, check=True, capture_output=True)  # replaces its own folder
        assert files(again) == files(editions[edition])


def test_it_refuses_to_overwrite_what_it_did_not_write(tmp_path):
    for folder in (TOP, CHAPTER, TOP / "book"):  # all exist: nothing is written if it fails
        with pytest.raises(ValueError, match="must not overwrite"):
            write_reader_edition(folder)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path / "mine")], capture_output=True, text=True
    )
    assert result.returncode != 0 and "was not written by this script" in result.stderr
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"


@pytest.mark.parametrize(
    ("source", "named"),
    [
        (":::{note}\nA note.\n:::", "{note}"),
        ("```{figure} fig.png\n:name: fig\n```", "{figure}"),
        ("See {ref}`ex-hpo-grid`.", "{ref}"),
        ("See {cite:ps}`bellman1966dynamic`.", "{cite:ps}"),
        ("See {cite:p}`nosuchkey`.", "nosuchkey"),
        ("Text\n:::\n", "':::'"),
        (":::{exercise}\n:label: a\n:hidden:\nText\n:::", ":hidden:"),
        (":::{exercise}\n---\nlabel: a\n---\nText\n:::", "YAML"),
        (":::{exercise}\n:label: a\nText", "not closed"),
    ],
)
def test_unknown_myst_fails_loudly(source, named):
    state = NotebookState(load_references())
    with pytest.raises(MystError, match=re.escape(named)):
        convert_markdown(source, state)


def test_code_is_not_converted_but_myst_targets_are_dropped():
    state = NotebookState(load_references())
    source = "(sec-x)=\n## X\n\n```python\nprint('{cite:p}`x`')\n:::\n```\n\nUse ``{ref}`a` ``."
    assert convert_markdown(source, state) == (
        "## X\n\n```python\nprint('{cite:p}`x`')\n:::\n```\n\nUse ``{ref}`a` ``."
    )
    assert convert_markdown("No MyST here.\n", state) == "No MyST here.\n"


def test_the_committed_editions_are_what_the_script_writes_now(editions):
    """Run scripts/reader_edition.py --publish (execute_notebooks.py does) and commit."""
    folders = {student: folder for folder, student in published_folders().items()}
    assert folders[False] == TOP / "notebooks" and folders[True] == TOP / "notebooks-student"
    # Only what the script writes: running the notebooks stages data/ beside them.
    for folder, written in ((folders[False], "reader"), (folders[True], "student")):
        committed = {k: v for k, v in files(folder).items() if not k.startswith("data/")}
        assert committed == files(editions[written])
