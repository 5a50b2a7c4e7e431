"""Sphinx extension: pages that load without console errors.

Two defects of the themes Jupyter Book 1 uses show up as errors in the browser's
console on every page, and this extension mends both where they arise:

- sphinx-thebe adds its configuration script twice, and the second copy fails with
  "Identifier 'THEBE_JS_URL' has already been declared": each page keeps one copy of
  every script.
- pydata-sphinx-theme 0.16's template reads a ``default_mode`` that nothing defines, so
  on a reader's first visit the colour mode is empty and the theme logs "Got invalid
  theme mode": pages get "auto" (follow the system's setting).
"""

from __future__ import annotations


def mend_page(app, pagename, templatename, context, doctree) -> None:
    context.setdefault("default_mode", "auto")
    scripts, seen = [], set()
    for script in context.get("script_files", []):
        # The copies differ only in how they say "no file" (None or "").
        filename = getattr(script, "filename", script) or ""
        attributes = getattr(script, "attributes", {})
        key = (filename, tuple(sorted((k, str(v)) for k, v in attributes.items())))
        if key not in seen:
            seen.add(key)
            scripts.append(script)
    context["script_files"] = scripts


def setup(app):
    app.connect("html-page-context", mend_page)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
