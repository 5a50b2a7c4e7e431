"""Sphinx extension: "Open in Colab", "Open in SageMaker Studio Lab" and "Download"
links, together at the top of each notebook page, all opening the reader edition.

The book's sources use MyST (exercise directives, citation roles) that plain Jupyter,
Colab and Studio Lab do not understand, so readers get the *reader edition* of each
notebook instead (scripts/reader_edition.py), committed in the folder that
``_config.yml``'s ``repository.path_to_book`` names. Every link derives from the one
repository URL and branch in ``_config.yml`` (which also drive the theme's own Colab
button), and the notebook that the Download link serves is replaced by its reader
edition when the build finishes.
"""

from __future__ import annotations

import shutil
from pathlib import Path, PurePosixPath

from docutils import nodes

COLAB = "https://colab.research.google.com/github"
STUDIOLAB = "https://studiolab.sagemaker.aws/import/github"


def _org_repo(repository_url: str) -> str:
    return repository_url.rstrip("/").removeprefix("https://github.com/")


def studiolab_url(repository_url: str, branch: str, path: str) -> str:
    """``https://studiolab.sagemaker.aws/import/github/ORG/REPO/blob/BRANCH/PATH``."""
    return f"{STUDIOLAB}/{_org_repo(repository_url)}/blob/{branch}/{path}"


def colab_url(repository_url: str, branch: str, path: str) -> str:
    """``https://colab.research.google.com/github/ORG/REPO/blob/BRANCH/PATH``."""
    return f"{COLAB}/{_org_repo(repository_url)}/blob/{branch}/{path}"


def reader_edition_path(config, source: str) -> str:
    """The reader edition of `source`, relative to the repository's root."""
    folder = config.html_theme_options.get("path_to_docs", "").strip("/")
    return str(PurePosixPath(folder) / source) if folder else source


def add_links(app, doctree) -> None:
    env = app.env
    source = str(env.doc2path(env.docname, False))
    if not source.endswith(".ipynb"):
        return
    options = app.config.html_theme_options
    repository, branch = options["repository_url"], options.get("repository_branch", "main")
    path = reader_edition_path(app.config, source)
    depth = env.docname.count("/")
    download = "../" * depth + f"_sources/{source}"
    html = (
        '<p class="launch-links">'
        f'<a href="{colab_url(repository, branch, path)}" class="colab-button">'
        "Open in Colab</a> · "
        f'<a href="{studiolab_url(repository, branch, path)}" class="studiolab-button">'
        "Open in SageMaker Studio Lab</a> · "
        f'<a href="{download}" class="download-notebook" download>Download notebook</a>'
        "</p>"
    )
    sections = list(doctree.findall(nodes.section))
    target = sections[0] if sections else doctree
    index = next(
        (i + 1 for i, child in enumerate(target.children) if isinstance(child, nodes.title)), 0
    )
    target.insert(index, nodes.raw("", html, format="html"))


def serve_reader_editions(app, exception) -> None:
    """Replace each notebook under ``_sources`` (what Download serves) by its reader edition."""
    if exception is not None or app.builder.format != "html":
        return
    sources = Path(app.outdir) / "_sources"
    for notebook in sources.glob("**/*.ipynb"):
        relative = notebook.relative_to(sources).as_posix()
        reader = Path(app.confdir) / reader_edition_path(app.config, relative)
        if not reader.is_file():
            raise FileNotFoundError(
                f"{reader}: no reader edition of {relative}; run scripts/reader_edition.py"
            )
        shutil.copyfile(reader, notebook)


def setup(app):
    app.connect("doctree-read", add_links)
    app.connect("build-finished", serve_reader_editions)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
