"""Write the reader edition: the chapter's notebooks in plain Jupyter Markdown.

    .venv/bin/python scripts/reader_edition.py OUT_DIR [--student]
    .venv/bin/python scripts/reader_edition.py --publish

``--publish`` writes both editions where the book's launch links find them: the
reader edition to the folder that _config.yml's ``repository.path_to_book`` names
(notebooks/), the student reader edition to notebooks-student/. Both are committed;
scripts/execute_notebooks.py republishes them after running the notebooks.

The notebooks in chapter19/ use MyST syntax that only Jupyter Book understands; opened in
Colab, SageMaker Studio Lab or plain Jupyter they show raw ``:::{exercise}`` blocks,
``{cite:p}`` roles and ``{solution-start}`` fences. This script writes a copy of each
notebook to OUT_DIR/chapter19/ with that syntax converted to plain Markdown: citations
become author-year text linked to the entry's DOI or URL in book/references.bib,
exercises become numbered bold headings, and solution gates become a "Solution." line.
Code cells, outputs and metadata are kept as they are. With ``--student``, the cells tagged
``solution`` are dropped and the solutions notebook is left out, as in
scripts/student_edition.py. Any MyST role or directive that the script does not know
stops it with an error naming it, so that none is left behind unconverted.
"""

from __future__ import annotations

import argparse
import copy
import re
import shutil
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import nbformat
import yaml
from student_edition import SOURCES, STUDENT_READER_EDITION, is_omitted, strip_solutions

TOP = Path(__file__).resolve().parents[1]
CHAPTER = "chapter19"
BIBLIOGRAPHY = TOP / "book" / "references.bib"
MARKER = ".reader-edition"  # marks a folder this script wrote, and may replace
SOLUTION_LINE = "**Solution.**"


class MystError(ValueError):
    """MyST syntax that the reader edition cannot convert (or a citation it cannot resolve)."""


# --- The bibliography ------------------------------------------------------------------------

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


class _BibParser:
    """A small BibTeX reader: ``@type{key, field = {value} # "value" # macro, ...}``."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.macros = {month: month.capitalize() for month in MONTHS}

    def fail(self, message: str) -> MystError:
        line = self.text.count("\n", 0, self.pos) + 1
        return MystError(f"references.bib, line {line}: {message}")

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def name(self) -> str:
        match = re.compile(r"[^\s\"#%'(),={}]+").match(self.text, self.pos)
        if not match:
            raise self.fail(f"expected a name at {self.text[self.pos : self.pos + 20]!r}")
        self.pos = match.end()
        return match.group()

    def expect(self, chars: str) -> str:
        self.skip_space()
        if self.pos >= len(self.text) or self.text[self.pos] not in chars:
            raise self.fail(f"expected one of {chars!r}")
        self.pos += 1
        return self.text[self.pos - 1]

    def braced(self, end: str) -> str:
        """The text up to the `end` that closes it at brace depth 0 (braces are kept)."""
        start, depth = self.pos, 0
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "{":
                depth += 1
            elif char == "}" and depth > 0:
                depth -= 1
            elif char in end and depth == 0:
                self.pos += 1
                return self.text[start : self.pos - 1]
            self.pos += 1
        raise self.fail(f"unbalanced braces or missing {end!r}")

    def value(self) -> str:
        parts = []
        while True:
            self.skip_space()
            char = self.text[self.pos : self.pos + 1]
            if char == "{":
                self.pos += 1
                parts.append(self.braced("}"))
            elif char == '"':
                self.pos += 1
                parts.append(self.braced('"'))
            elif char.isdigit():
                parts.append(self.name())
            else:
                macro = self.name()
                if macro.lower() not in self.macros:
                    raise self.fail(f"undefined macro {macro!r}")
                parts.append(self.macros[macro.lower()])
            self.skip_space()
            if self.text[self.pos : self.pos + 1] != "#":
                return re.sub(r"\s+", " ", "".join(parts)).strip()
            self.pos += 1

    def entries(self) -> dict[str, dict[str, str]]:
        entries: dict[str, dict[str, str]] = {}
        while (at := self.text.find("@", self.pos)) >= 0:
            self.pos = at + 1
            kind = self.name().lower()
            close = "}" if self.expect("{(") == "{" else ")"
            if kind in ("comment", "preamble"):
                self.braced(close)
                continue
            if kind == "string":
                self.skip_space()
                macro = self.name().lower()
                self.expect("=")
                self.macros[macro] = self.value()
                self.expect(close)
                continue
            self.skip_space()
            key = self.name()
            if key in entries:
                raise self.fail(f"duplicate key {key!r}")
            fields = {"ENTRYTYPE": kind}
            while self.expect("," + close) == ",":
                self.skip_space()
                if self.text[self.pos : self.pos + 1] == close:  # a trailing comma
                    self.pos += 1
                    break
                name = self.name().lower()
                self.expect("=")
                fields[name] = self.value()
            entries[key] = fields
        return entries


def parse_bib(text: str) -> dict[str, dict[str, str]]:
    """The entries of a .bib file: key -> {field name (lower case): value, ENTRYTYPE: type}."""
    return _BibParser(text).entries()


ACCENTS = {
    "'": "\u0301",
    "`": "\u0300",
    "^": "\u0302",
    '"': "\u0308",
    "~": "\u0303",
    "=": "\u0304",
    ".": "\u0307",
    "c": "\u0327",
    "v": "\u030c",
    "u": "\u0306",
    "H": "\u030b",
    "k": "\u0328",
    "r": "\u030a",
}
LETTERS = {"ss": "ß", "o": "ø", "O": "Ø", "ae": "æ", "AE": "Æ", "oe": "œ", "OE": "Œ"}
LETTERS |= {"aa": "å", "AA": "Å", "l": "ł", "L": "Ł", "i": "ı", "j": "ȷ"}


def latex_to_text(value: str) -> str:
    """Plain Unicode text of a BibTeX value: accents applied, braces stripped."""
    symbol = r"(?P<symbol>['`^\"~=.])\s*"
    letter = r"(?P<letter>[cvuHkr])(?:\s+|(?=\{))"
    accent = rf"\\(?:{symbol}|{letter})(?:\{{\s*(?P<braced>\\?[A-Za-z])\s*\}}|(?P<bare>[A-Za-z]))"

    def accented(match: re.Match) -> str:
        base = match["braced"] or match["bare"]
        base = {"\\i": "i", "\\j": "j"}.get(base, base)
        return base + ACCENTS[match["symbol"] or match["letter"]]

    text = re.sub(accent, accented, value)
    names = "|".join(sorted(LETTERS, key=len, reverse=True))
    text = re.sub(rf"\\({names})(?![A-Za-z])\s*", lambda m: LETTERS[m[1]], text)
    text = re.sub(r"\\([&%$#_{}])", r"\1", text).replace("~", "\u00a0")
    text = text.replace("{", "").replace("}", "")
    if "\\" in text:
        raise MystError(f"cannot convert the LaTeX in {value!r}")
    return unicodedata.normalize("NFC", text)


def split_names(value: str) -> list[str]:
    """The names of an author or editor field: split at " and " outside braces."""
    names, depth, start = [], 0, 0
    for match in re.finditer(r"[{}]|\s+and\s+", value):
        if match[0] == "{":
            depth += 1
        elif match[0] == "}":
            depth -= 1
        elif depth == 0:
            names.append(value[start : match.start()])
            start = match.end()
    names.append(value[start:])
    return [name.strip() for name in names if name.strip()]


def surname(name: str) -> str:
    """The last name of "Last, First" or "First Last" (a braced group counts as one word)."""
    if "," in re.sub(r"\{[^{}]*\}", "", name):
        depth = 0
        for index, char in enumerate(name):
            depth += {"{": 1, "}": -1}.get(char, 0)
            if char == "," and depth == 0:
                return latex_to_text(name[:index].strip())
    words = re.findall(r"(?:\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\}|[^\s{}])+", name)
    return latex_to_text(words[-1])


def authors_label(entry: dict[str, str], key: str) -> str:
    """ "Surname", "A and B" or "A et al.", from the authors (else the editors)."""
    field_value = entry.get("author") or entry.get("editor")
    if not field_value:
        raise MystError(f"references.bib: {key} has neither author nor editor")
    names = split_names(field_value)
    others = names[-1].lower() == "others"
    surnames = [surname(name) for name in names if name.lower() != "others"]
    if len(surnames) >= 3 or (others and surnames):
        return f"{surnames[0]} et al."
    return " and ".join(surnames)


def entry_url(entry: dict[str, str]) -> str | None:
    """https://doi.org/DOI, else the url field, else None; safe as a Markdown link target."""

    def plain(value: str) -> str:  # a URL keeps its ~; only braces and escapes go
        return re.sub(r"\\([&%#_$~])", r"\1", value.replace("{", "").replace("}", "")).strip()

    doi, url = plain(entry.get("doi", "")), plain(entry.get("url", ""))
    if doi:
        doi = re.sub(r"^(?:https?://(?:dx\.)?doi\.org/|doi:)", "", doi, flags=re.IGNORECASE)
        url = "https://doi.org/" + doi
    return quote(url, safe="/:?#@!&'*+,;=%~-._") if url else None


def escape_markdown(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>$|])", r"\\\1", text)


@dataclass(frozen=True)
class Reference:
    """What a citation of one entry shows: its authors, year and link."""

    authors: str
    year: str
    url: str | None

    def render(self, textual: bool) -> str:
        """ "Authors, Year" (parenthetical) or "Authors (Year)" (textual), linked if it can be."""
        text = f"{self.authors} ({self.year})" if textual else f"{self.authors}, {self.year}"
        text = escape_markdown(text)
        return f"[{text}]({self.url})" if self.url else text


def load_references(path: Path = BIBLIOGRAPHY) -> dict[str, Reference]:
    """The reference of each entry of a .bib file."""
    references = {}
    for key, entry in parse_bib(path.read_text(encoding="utf-8")).items():
        if not entry.get("year"):
            raise MystError(f"{path.name}: {key} has no year")
        year = latex_to_text(entry["year"])
        references[key] = Reference(authors_label(entry, key), year, entry_url(entry))
    return references


# --- MyST to Markdown ------------------------------------------------------------------------

FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,}|:{3,})(?P<info>.*)$")
DIRECTIVE = re.compile(r"^\{(?P<name>[^{}\s]+)\}\s*(?P<argument>.*)$")
OPTION = re.compile(r"^\s*:(?P<name>[\w-]+):(?:\s+(?P<value>.*))?$")
TARGET = re.compile(r"^\s*\([^()\s]+\)=\s*$")  # (label)= before a heading
COMMENT = re.compile(r"^\s*%")  # a MyST comment line
LABELLED_MATH = re.compile(r"^(?P<math>\s*\$\$)\s*\([^()\s]+\)\s*$")  # $$ (label)
ROLE_OR_CODE = re.compile(r"\{(?P<role>[A-Za-z][\w:.+-]*)\}(?P<open>`+)|(?P<ticks>`+)")
OPTIONS = {  # the directives the edition converts, and the options it accepts for each
    "exercise": {"label", "class", "nonumber"},
    "solution-start": {"label", "class"},
    "solution-end": set(),
}
CITATIONS = {"cite": False, "cite:p": False, "cite:t": True}  # role -> textual


@dataclass
class NotebookState:
    """What the conversion of one notebook counts across its cells."""

    references: dict[str, Reference]
    exercises: int = 0
    citations: list[str] = field(default_factory=list)


@dataclass
class _Directive:
    char: str
    length: int
    name: str


def convert_markdown(source: str, state: NotebookState) -> str:
    """The Markdown of a cell's MyST source: directives and roles converted, or an error."""
    out: list[tuple[str, bool]] = []  # (line, is prose): only prose is searched for roles
    open_directives: list[_Directive] = []
    need_blank = False
    lines = source.split("\n")
    index = 0

    def emit(line: str, prose: bool = True) -> None:
        nonlocal need_blank
        if need_blank and line.strip() and out and out[-1][0].strip():
            out.append(("", True))
        need_blank = False
        out.append((line, prose))

    while index < len(lines):
        line = lines[index]
        index += 1
        fence = FENCE.match(line)
        if fence is None:
            if TARGET.match(line) or COMMENT.match(line):
                continue
            if labelled := LABELLED_MATH.match(line):
                line = labelled["math"]
            emit(line)
            continue
        char, length, info = fence["fence"][0], len(fence["fence"]), fence["info"].strip()
        top = open_directives[-1] if open_directives else None
        if top and char == top.char and length >= top.length and not info:
            open_directives.pop()
            need_blank = True
            continue
        directive = DIRECTIVE.match(info)
        if directive is None:
            if char == ":":
                raise MystError(f"a ':::' line outside a directive: {line!r}")
            emit(line, prose=False)  # a code block: copied as it is
            while index < len(lines):
                line = lines[index]
                index += 1
                emit(line, prose=False)
                closing = FENCE.match(line)
                if closing and closing["fence"][0] == char and len(closing["fence"]) >= length:
                    if not closing["info"].strip():
                        break
            continue
        name, argument = directive["name"], directive["argument"].strip()
        if name not in OPTIONS:
            raise MystError(f"unsupported MyST directive {{{name}}} in {line.strip()!r}")
        if index < len(lines) and lines[index].strip() == "---":
            raise MystError(f"YAML options of {{{name}}} are not supported; use :name: lines")
        options = {}
        while index < len(lines) and (option := OPTION.match(lines[index])):
            if option["name"] not in OPTIONS[name]:
                raise MystError(f"unsupported option :{option['name']}: of {{{name}}}")
            options[option["name"]] = option["value"]
            index += 1
        if name == "exercise":
            if "nonumber" in options:
                heading = "Exercise"
            else:
                state.exercises += 1
                heading = f"Exercise {state.exercises}"
            if argument:
                heading += f" ({argument})"
            need_blank = True
            emit(f"**{heading}**")
        elif name == "solution-start":
            need_blank = True
            emit(SOLUTION_LINE)
        need_blank = True
        open_directives.append(_Directive(char, length, name))
    if open_directives:
        raise MystError(f"{{{open_directives[-1].name}}} is not closed")

    converted: list[str] = []
    prose: list[str] = []
    for line, is_prose in [*out, ("", False)]:
        if is_prose:
            prose.append(line)
            continue
        if prose:
            converted.append(convert_roles("\n".join(prose), state))
            prose = []
        converted.append(line)
    result = "\n".join(converted[:-1])
    return result if result == source else result.strip("\n")


def convert_roles(text: str, state: NotebookState) -> str:
    """`text` with its citation roles replaced; an error for any other role."""
    parts, pos = [], 0
    while (match := ROLE_OR_CODE.search(text, pos)) is not None:
        ticks = match["open"] or match["ticks"]
        closing = re.compile(rf"(?<!`){ticks}(?!`)").search(text, match.end())
        if closing is None:  # backticks that open no code span are plain text
            parts.append(text[pos : match.end()])
            pos = match.end()
            continue
        if match["ticks"]:  # a code span, kept as it is
            parts.append(text[pos : closing.end()])
            pos = closing.end()
            continue
        role, content = match["role"], text[match.end() : closing.start()]
        if role not in CITATIONS:
            raise MystError(
                f"unsupported MyST role {{{role}}} in {text[match.start() : closing.end()]!r}"
            )
        parts.append(text[pos : match.start()])
        parts.append(cite(content, CITATIONS[role], state))
        pos = closing.end()
    parts.append(text[pos:])
    return "".join(parts)


def cite(content: str, textual: bool, state: NotebookState) -> str:
    """A citation of the comma-separated keys in `content`, author-year, as the book has it."""
    keys = [key.strip() for key in content.split(",") if key.strip()]
    if not keys:
        raise MystError(f"a citation without a key: {content!r}")
    missing = [key for key in keys if key not in state.references]
    if missing:
        raise MystError(f"citation keys not in references.bib: {', '.join(missing)}")
    state.citations.extend(keys)
    cited = [state.references[key].render(textual) for key in keys]
    return "; ".join(cited) if textual else "(" + "; ".join(cited) + ")"


def convert_notebook(
    notebook: nbformat.NotebookNode, references: dict[str, Reference]
) -> tuple[nbformat.NotebookNode, NotebookState]:
    """A copy of `notebook` with its Markdown cells converted.

    A Markdown cell that held only MyST syntax (such as a solution-end fence) is dropped.
    """
    notebook = copy.deepcopy(notebook)
    state = NotebookState(references)
    cells = []
    for number, cell in enumerate(notebook.cells):
        if cell.cell_type == "markdown":
            try:
                source = convert_markdown(cell.source, state)
            except MystError as error:
                raise MystError(f"cell {number}: {error}") from None
            if cell.source.strip() and not source.strip():
                continue
            cell.source = source
        cells.append(cell)
    notebook.cells = cells
    return notebook, state


def write_reader_edition(
    out: Path, student: bool = False, references: dict[str, Reference] | None = None
) -> dict[str, NotebookState]:
    """Write the converted notebooks to out/chapter19/; return what each one cited and counted.

    `out` must be new, or a folder that this script wrote before: it is replaced.
    """
    out = out.resolve()
    if TOP.is_relative_to(out) or any(out.is_relative_to(TOP / name) for name in SOURCES):
        raise ValueError(f"{out}: the reader edition must not overwrite the book's sources")
    if out.exists():
        if not (out / MARKER).exists():
            raise ValueError(f"{out} exists and was not written by this script; choose another")
        shutil.rmtree(out)
    references = load_references() if references is None else references
    results: dict[str, NotebookState] = {}
    converted = {}
    for path in sorted((TOP / CHAPTER).glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        if student:
            if is_omitted(notebook):
                continue
            strip_solutions(notebook)
        relative = f"{CHAPTER}/{path.name}"
        try:
            converted[relative], results[relative] = convert_notebook(notebook, references)
        except MystError as error:
            raise MystError(f"{relative}, {error}") from None
    (out / CHAPTER).mkdir(parents=True)
    (out / MARKER).write_text("Written by scripts/reader_edition.py; replaced on each run.\n")
    for relative, notebook in converted.items():
        nbformat.write(notebook, out / relative)
    return results


def published_folders() -> dict[Path, bool]:
    """Where the launch links find each edition: folder -> whether it is the student's."""
    config = yaml.safe_load((TOP / "_config.yml").read_text())
    return {TOP / config["repository"]["path_to_book"]: False, TOP / STUDENT_READER_EDITION: True}


def publish() -> dict[str, NotebookState]:
    """Write both editions to the committed folders that the launch links open."""
    references = load_references()
    results = {}
    for folder, student in published_folders().items():
        for notebook, state in write_reader_edition(folder, student, references).items():
            results[f"{folder.name}/{notebook}"] = state
    return results


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "out", type=Path, nargs="?", help="folder to write (new, or written by this script)"
    )
    parser.add_argument(
        "--student", action="store_true", help="drop the solutions (the student edition)"
    )
    parser.add_argument(
        "--publish", action="store_true", help="write both editions where the book links"
    )
    args = parser.parse_args(argv)
    if args.publish == (args.out is not None):
        parser.error("give either OUT_DIR or --publish")
    try:
        references = load_references()
        if args.publish:
            results = publish()
        else:
            results = write_reader_edition(args.out, args.student, references)
    except ValueError as error:  # MyST it cannot convert, or an OUT_DIR it must not replace
        sys.exit(f"reader_edition.py: {error}")
    unlinked = set()
    for notebook, state in results.items():
        print(f"{notebook}: {len(state.citations)} citations, {state.exercises} exercises")
        unlinked |= {key for key in state.citations if references[key].url is None}
    if unlinked:
        print("cited without a DOI or URL to link:", ", ".join(sorted(unlinked)))


if __name__ == "__main__":
    main()
