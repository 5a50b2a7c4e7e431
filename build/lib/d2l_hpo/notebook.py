"""Show the library's code in a notebook: the code a reader sees is what runs."""

from __future__ import annotations

import inspect

from IPython.display import Markdown


def source_markdown(obj) -> str:
    """The source of a class or function as a fenced Python code block."""
    return f"```python\n{inspect.getsource(obj).rstrip()}\n```"


def show_source(obj) -> Markdown:
    """Display the source of `obj` from the module that defines it (not a copy)."""
    return Markdown(source_markdown(obj))
