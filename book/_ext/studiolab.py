"""Sphinx extension: an "Open in SageMaker Studio Lab" link at the top of each notebook page.

Jupyter Book 1 has launch buttons for Colab and Binder but not for Studio Lab. The link
is derived from the repository URL and branch in ``_config.yml`` (which Jupyter Book
passes to the theme), like the Colab button, so there is one URL to maintain.
"""

from __future__ import annotations

from docutils import nodes

BADGE = "https://studiolab.sagemaker.aws/studiolab.svg"


def studiolab_url(repository_url: str, branch: str, path: str) -> str:
    """``https://studiolab.sagemaker.aws/import/github/ORG/REPO/blob/BRANCH/PATH``."""
    org_repo = repository_url.rstrip("/").removeprefix("https://github.com/")
    return f"https://studiolab.sagemaker.aws/import/github/{org_repo}/blob/{branch}/{path}"


def add_link(app, doctree) -> None:
    env = app.env
    source = env.doc2path(env.docname, False)
    if not str(source).endswith(".ipynb"):
        return
    options = app.config.html_theme_options
    url = studiolab_url(
        options["repository_url"], options.get("repository_branch", "main"), str(source)
    )
    html = (
        f'<p class="studiolab-link"><a href="{url}" class="studiolab-button">'
        "Open in SageMaker Studio Lab</a></p>"
    )
    sections = list(doctree.findall(nodes.section))
    target = sections[0] if sections else doctree
    index = next(
        (i + 1 for i, child in enumerate(target.children) if isinstance(child, nodes.title)), 0
    )
    target.insert(index, nodes.raw("", html, format="html"))


def setup(app):
    app.connect("doctree-read", add_link)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
