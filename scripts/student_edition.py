"""Write the student edition's sources: the book without any worked solution.

    .venv/bin/python scripts/student_edition.py OUT_DIR

Copies the book's sources into OUT_DIR, drops every notebook cell tagged ``solution``,
and leaves out notebooks marked ``{"d2l_hpo": {"student_edition": "omit"}}`` (pages that
hold only solutions) together with their entries in the table of contents. Building
OUT_DIR with Jupyter Book gives the student edition (scripts/book.sh --student). This
replaces sphinx-exercise's ``hide_solutions``, which crashes on gated solutions
(sphinx-exercise issue #89).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import nbformat
import yaml

TOP = Path(__file__).resolve().parents[1]
SOURCES = ["_config.yml", "_toc.yml", "book", "chapter19"]
SOLUTION_TAG = "solution"
MARKER = ".student-edition"  # marks a folder this script wrote, and may replace
#: The student edition's notebooks for Colab and Studio Lab (scripts/reader_edition.py).
STUDENT_READER_EDITION = "notebooks-student"


def is_omitted(notebook) -> bool:
    return notebook.metadata.get("d2l_hpo", {}).get("student_edition") == "omit"


def strip_solutions(notebook) -> int:
    """Remove the cells tagged as solutions; return how many there were."""
    kept = [c for c in notebook.cells if SOLUTION_TAG not in c.metadata.get("tags", [])]
    removed = len(notebook.cells) - len(kept)
    notebook.cells = kept
    return removed


def prune_toc(entries: list, omitted: set[str]) -> list:
    """The toc entries without the omitted files (at any depth)."""
    kept = []
    for entry in entries:
        if entry.get("file") in omitted:
            continue
        for key in ("sections", "chapters", "parts"):
            if key in entry:
                entry[key] = prune_toc(entry[key], omitted)
                if not entry[key]:  # a toc list may not be empty
                    del entry[key]
        kept.append(entry)
    return kept


def write_student_edition(out: Path) -> dict[str, int]:
    """Write the sources to `out`; return, per notebook kept, the solution cells removed.

    `out` must be new, or a folder that this script wrote before: it is replaced.
    """
    out = out.resolve()
    if (
        out == TOP
        or TOP.is_relative_to(out)
        or any(out.is_relative_to(TOP / name) for name in SOURCES)
    ):
        raise ValueError(f"{out}: the student edition must not overwrite the book's sources")
    if out.exists():
        if not (out / MARKER).exists():
            raise ValueError(f"{out} exists and was not written by this script; choose another")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text("Written by scripts/student_edition.py; replaced on each run.\n")
    for name in SOURCES:
        source = TOP / name
        if source.is_dir():
            shutil.copytree(source, out / name, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        else:
            shutil.copy2(source, out / name)
    removed, omitted = {}, set()
    for path in sorted(out.glob("**/*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        relative = path.relative_to(out).with_suffix("").as_posix()
        if is_omitted(notebook):
            path.unlink()
            omitted.add(relative)
            continue
        removed[relative] = strip_solutions(notebook)
        nbformat.write(notebook, path)
    toc = yaml.safe_load((out / "_toc.yml").read_text())
    toc["parts"] = prune_toc(toc["parts"], omitted)
    (out / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False))
    config = yaml.safe_load((out / "_config.yml").read_text())
    config["title"] += " (student edition)"
    # Its launch links open the student reader edition, committed beside the book's.
    config["repository"]["path_to_book"] = STUDENT_READER_EDITION
    shutil.copytree(  # without the data that running those notebooks stages there
        TOP / STUDENT_READER_EDITION,
        out / STUDENT_READER_EDITION,
        ignore=shutil.ignore_patterns("data"),
    )
    # Static files (MathJax) are served from the book's own folder, not copied.
    sphinx_config = config["sphinx"]["config"]
    sphinx_config["html_static_path"] = [str(TOP / p) for p in sphinx_config["html_static_path"]]
    (out / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    return removed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    for notebook, count in write_student_edition(args.out.resolve()).items():
        print(f"{notebook}: {count} solution cells removed")


if __name__ == "__main__":
    main()
