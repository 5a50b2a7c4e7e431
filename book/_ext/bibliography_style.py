"""Sphinx extension: bibliography entries labelled author-year, as the text cites them.

The text cites "Bergstra and Bengio (2012)", so the bibliography lists that entry as
"[Bergstra and Bengio, 2012]" rather than "[3]". The style is pybtex's "plain" (which
shows each entry's DOI or URL as a link) with these labels; _config.yml selects it as
``bibtex_default_style: author_year``.
"""

from __future__ import annotations

import codecs

import latexcodec  # noqa: F401 - registers the "ulatex" codec
from pybtex.plugin import register_plugin
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle


def surname(person) -> str:
    """A person's last name as plain text: K{\\'e}gl -> Kégl."""
    name = codecs.decode(" ".join(person.prelast_names + person.last_names), "ulatex")
    return name.replace("{", "").replace("}", "")


def author_year(entry) -> str:
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [surname(p) for p in people]
    if len(names) > 2:
        who = f"{names[0]} et al."
    else:
        who = " and ".join(names)
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabels(BaseLabelStyle):
    """Labels such as "Bergstra and Bengio, 2012"; a, b, ... tell equal ones apart."""

    def format_labels(self, sorted_entries):
        labels = [author_year(entry) for entry in sorted_entries]
        counts = {label: labels.count(label) for label in labels}
        seen: dict[str, int] = {}
        for label in labels:
            if counts[label] > 1:
                seen[label] = seen.get(label, 0) + 1
                label += "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]
            yield label


class AuthorYearStyle(PlainStyle):
    default_label_style = "author_year"


def setup(app):
    register_plugin("pybtex.style.labels", "author_year", AuthorYearLabels)
    register_plugin("pybtex.style.formatting", "author_year", AuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
