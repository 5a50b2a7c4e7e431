"""The book builds with zero warnings, and its 19.1 page shows a reader what it should,
checked in headless Chromium."""

import http.server
import re
import sys
import threading
from functools import partial
from pathlib import Path

import nbformat
import pytest
import yaml
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "book" / "_ext"))
from launch_links import colab_url, studiolab_url  # noqa: E402

from tests.conftest import build_book  # noqa: E402

TOP = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = TOP / "_build" / "screenshots" / "what-is-hpo.png"
PHONE_SCREENSHOT = TOP / "_build" / "screenshots" / "what-is-hpo-phone-contents.png"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


def repository() -> dict:
    return yaml.safe_load((TOP / "_config.yml").read_text())["repository"]


@pytest.fixture(scope="session")
def built_book(tmp_path_factory) -> Path:
    """The book built from the committed outputs, as scripts/book.sh does, in a temp dir."""
    return build_book(TOP, tmp_path_factory.mktemp("book"))


def test_studiolab_url_follows_the_documented_form():
    assert studiolab_url("https://github.com/org/repo/", "main", "chapter19/x.ipynb") == (
        "https://studiolab.sagemaker.aws/import/github/org/repo/blob/main/chapter19/x.ipynb"
    )


def test_the_build_renders_committed_outputs_without_executing(built_book):
    html = (built_book / "chapter19" / "what-is-hpo.html").read_text()
    notebook = nbformat.read(TOP / "chapter19" / "what-is-hpo.ipynb", as_version=4)
    best = next(c for c in notebook.cells if c.source.startswith("best = results.best()"))
    assert best.outputs[0]["text"].strip() in html


@pytest.fixture(scope="session")
def page(built_book, tmp_path_factory):
    """The built 19.1 page, served on 127.0.0.1 and opened in headless Chromium."""
    if not CHROMIUM.exists():
        pytest.fail("apt-get install chromium (scripts/setup.sh does)")
    from playwright.sync_api import sync_playwright

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = partial(QuietHandler, directory=str(built_book))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    profile = tmp_path_factory.mktemp("chromium-profile")  # an empty --user-data-dir
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, chromium_sandbox=False,
            args=FLAGS[1:], viewport={"width": 1300, "height": 1000},
        )  # fmt: skip
        page = context.new_page()
        base = f"http://127.0.0.1:{server.server_address[1]}"
        page.goto(f"{base}/chapter19/what-is-hpo.html", wait_until="load")
        page.base = base
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)  # a build artefact
        yield page
        context.close()
    server.shutdown()


def texts(page, selector: str) -> list[str]:
    return [t.replace("#", "").strip() for t in page.locator(selector).all_inner_texts()]


def test_title_and_headings(page):
    assert page.title().startswith("19.1. What Is Hyperparameter Optimization?")
    assert texts(page, "article h1") == ["19.1. What Is Hyperparameter Optimization?"]
    assert texts(page, "article h2") == [
        "19.1.1. The Optimization Problem", "19.1.2. Random Search",
        "19.1.3. Summary", "19.1.4. Exercises",
    ]  # fmt: skip
    assert texts(page, "article h3") == [
        "19.1.1.1. The Objective Function", "19.1.1.2. The Configuration Space",
    ]  # fmt: skip


def test_the_hyperparameter_table_is_rendered(page):
    table = page.locator("article table", has_text="Hyperparameter Ranges")
    assert table.count() == 1
    assert texts(table, "thead th") == ["Name", "Type", "Hyperparameter Ranges", "log-scale"]
    names = [n.strip() for n in table.locator("tbody tr td:first-child").all_inner_texts()]
    assert names == ["learning rate", "batch size", "momentum", "activation function",
                     "number of units", "number of layers"]  # fmt: skip


def test_the_trial_table_and_the_figures_are_shown(page):
    trials = page.locator("article table.dataframe", has_text="status")
    assert trials.count() == 1
    assert trials.locator("tbody tr").count() == 5
    assert "learning_rate" in trials.inner_text() and "error" in trials.inner_text()
    widths = page.evaluate(
        "Array.from(document.querySelectorAll('article .cell_output img'))"
        ".map(img => img.complete ? img.naturalWidth : 0)"
    )
    assert len(widths) == 2 and all(w > 0 for w in widths)


def test_citations_link_to_bibliography_entries(page):
    citations = page.locator("article a[href*='bibliography']")
    assert citations.count() >= 14
    assert "Bardenet" in page.locator("article").inner_text()
    page.goto(f"{page.base}/book/bibliography.html")
    entries = page.locator("article .citation, article dl.citation > dt")
    text = page.locator("article").inner_text()
    assert entries.count() >= 14
    labels = [t.strip() for t in page.locator("article .citation > .label").all_inner_texts()]
    assert "[Bergstra and Bengio, 2012]" in labels and "[Bellman, 1966]" in labels
    assert all(re.fullmatch(r"\[[^\]\d]+, (19|20)\d\d[a-z]?\]", label) for label in labels)
    bodies = page.locator("article .citation > p").all()
    assert len(bodies) == len(labels)
    for body in bodies:  # a DOI or a URL to follow
        hrefs = body.evaluate("d => Array.from(d.querySelectorAll('a')).map(a => a.href)")
        assert any(h.startswith(("https://doi.org/", "https://")) for h in hrefs), body
    for expected in ("Collaborative hyperparameter tuning", "Dynamic programming",
                     "Algorithms for hyper-parameter optimization", "Maclaurin"):  # fmt: skip
        assert expected in text
    page.goto(f"{page.base}/chapter19/what-is-hpo.html", wait_until="load")


def test_launch_links_open_the_reader_edition_of_this_notebook(page):
    repo = repository()
    path = f"{repo['path_to_book']}/chapter19/what-is-hpo.ipynb"
    assert path == "notebooks/chapter19/what-is-hpo.ipynb"
    links = page.locator("article .launch-links")
    assert links.count() == 1  # Colab, Studio Lab and Download together, at the top
    hrefs = links.first.evaluate("p => Array.from(p.querySelectorAll('a')).map(a => a.href)")
    assert hrefs[:2] == [
        colab_url(repo["url"], repo["branch"], path),
        studiolab_url(repo["url"], repo["branch"], path),
    ]
    assert hrefs[2].endswith("_sources/chapter19/what-is-hpo.ipynb")
    header = page.evaluate("Array.from(document.querySelectorAll('a')).map(a => a.href)")
    assert colab_url(repo["url"], repo["branch"], path) in header  # the theme's button too
    first_heading = page.locator("article h1").first.bounding_box()["y"]
    assert 0 < links.first.bounding_box()["y"] - first_heading < 200


def test_the_download_link_serves_the_reader_edition(page):
    response = page.request.get(f"{page.base}/_sources/chapter19/what-is-hpo.ipynb")
    downloaded = nbformat.reads(response.text(), as_version=4)
    committed = nbformat.read(TOP / "notebooks" / "chapter19" / "what-is-hpo.ipynb", 4)
    assert downloaded == committed
    assert "{cite:" not in response.text() and ":::{exercise}" not in response.text()


def test_figures_have_numbered_captions_alt_text_and_sharp_images(page):
    figures = page.locator("article figure")
    assert figures.count() == 2
    captions = [t.strip() for t in figures.locator("figcaption").all_inner_texts()]
    assert [c.split(" ", 2)[:2] for c in captions] == [["Fig.", "1"], ["Fig.", "2"]]
    for image in figures.locator("img").all():
        assert len(image.get_attribute("alt")) > 40
        natural, shown = image.evaluate("i => [i.naturalWidth, i.clientWidth]")
        assert natural >= 1.9 * shown  # drawn at twice the resolution it is shown at


def test_a_screenshot_of_the_page_is_kept(page):
    with Image.open(SCREENSHOT) as shot:
        assert shot.width == 1300 and shot.height > 5000  # the whole page


def test_solutions_are_hidden_until_opened(page):
    page.goto(f"{page.base}/chapter19/what-is-hpo-solutions.html", wait_until="load")
    solutions = page.locator("article .solution.dropdown")
    assert solutions.count() == 3
    first = solutions.first
    answer = first.get_by_text("Why this is a problem").first
    assert not answer.is_visible()
    first.locator(".admonition-title").click()
    answer.wait_for(state="visible", timeout=5000)
    figures = page.evaluate(
        "Array.from(document.querySelectorAll('article .solution img'))"
        ".map(img => img.complete ? img.naturalWidth : 0)"
    )
    assert len(figures) == 3 and all(w > 0 for w in figures)
    page.goto(f"{page.base}/chapter19/what-is-hpo.html", wait_until="load")


def test_a_phone_reader_can_open_the_table_of_contents(page):
    """At 390 x 844, the one visible contents button opens the sidebar (not so with
    pydata-sphinx-theme 0.17, which wires a hidden copy of the button)."""
    phone = page.context.new_page()
    try:
        phone.set_viewport_size({"width": 390, "height": 844})
        phone.goto(f"{page.base}/chapter19/what-is-hpo.html", wait_until="load")
        contents = phone.get_by_role("link", name="Bibliography")
        assert not any(link.is_visible() for link in contents.all())
        toggles = [t for t in phone.locator(".primary-toggle").all() if t.is_visible()]
        assert len(toggles) == 1
        toggles[0].click()
        opened = phone.locator("dialog[open]").get_by_role("link", name="Bibliography")
        opened.wait_for(state="visible", timeout=5000)
        opened.scroll_into_view_if_needed()  # the last entry of a long table of contents
        box = opened.bounding_box()
        assert 0 <= box["x"] < 390 and 0 <= box["y"] < 844  # on the screen, not off it
        phone.screenshot(path=str(PHONE_SCREENSHOT))
    finally:
        phone.close()


def book_pages(built_book: Path) -> list[str]:
    """Every page of the book (not Sphinx's generated index and search pages)."""
    pages = []
    for page in sorted(built_book.glob("**/*.html")):
        path = page.relative_to(built_book).as_posix()
        redirect = page.read_text().startswith('<meta http-equiv="Refresh"')  # index.html
        if not (path.startswith("_") or path in ("genindex.html", "search.html") or redirect):
            pages.append(path)
    return pages


@pytest.fixture(scope="session")
def offline_visits(page, built_book) -> dict[str, dict]:
    """Every page opened with the network blocked: what a reader offline sees.

    Per page: the article's text (hidden solutions included), the number of typeset
    formulas, and the console errors and uncaught exceptions.
    """
    offline = page.context.new_page()
    visits, current, blocked = {}, {}, []

    def only_this_site(route):
        if route.request.url.startswith(page.base):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    def record(kind, text):
        current.setdefault("errors", []).append(f"{kind}: {text}")

    offline.route("**/*", only_this_site)
    offline.on("console", lambda m: record("console", m.text) if m.type == "error" else None)
    offline.on("pageerror", lambda error: record("exception", error))
    try:
        for path in book_pages(built_book):
            current = {"errors": []}
            offline.goto(f"{page.base}/{path}", wait_until="load")
            if offline.locator("script[src*='mathjax']").count():  # pages with math
                offline.wait_for_function("window.MathJax?.startup?.promise")
                offline.evaluate("MathJax.startup.promise")  # typesetting done
            offline.wait_for_timeout(200)  # late errors of asynchronous scripts
            current["text"] = offline.locator("article").text_content()
            current["formulas"] = offline.locator("article mjx-container").count()
            current["blocked"], blocked = blocked, []
            visits[path] = current
    finally:
        offline.close()
    return visits


def test_math_renders_on_every_page_with_the_network_blocked(offline_visits):
    """MathJax comes with the site, so a reader offline sees math, not TeX."""
    assert len(offline_visits) >= 6
    for path, visit in offline_visits.items():
        assert "\\(" not in visit["text"] and "\\[" not in visit["text"], path
        assert not [url for url in visit["blocked"] if "mathjax" in url.lower()], path
    assert offline_visits["chapter19/what-is-hpo.html"]["formulas"] >= 27
    assert offline_visits["chapter19/what-is-hpo-solutions.html"]["formulas"] >= 43
    assert offline_visits["chapter19/hyperopt-api.html"]["formulas"] >= 5
    assert offline_visits["chapter19/sh-intro.html"]["formulas"] >= 30
    assert offline_visits["chapter19/sh-async.html"]["formulas"] >= 15


def test_no_page_logs_an_error_in_the_console(offline_visits):
    errors = {path: visit["errors"] for path, visit in offline_visits.items() if visit["errors"]}
    assert errors == {}


def test_every_page_has_a_favicon(built_book):
    for path in book_pages(built_book):
        html = (built_book / path).read_text()
        assert 'rel="icon" href="' in html and "favicon.svg" in html, path


def test_a_tap_anywhere_on_a_solution_title_opens_it_on_a_phone(page):
    phone = page.context.new_page()
    try:
        phone.set_viewport_size({"width": 390, "height": 844})
        url = f"{page.base}/chapter19/what-is-hpo-solutions.html"
        phone.goto(url, wait_until="load")
        solution = phone.locator("article .solution.dropdown").first
        answer = solution.get_by_text("Why this is a problem").first
        assert not answer.is_visible()
        link = solution.locator(".admonition-title a").first  # "Exercise 1", in the title
        assert link.count() == 1
        link.scroll_into_view_if_needed()
        box = link.bounding_box()
        phone.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        answer.wait_for(state="visible", timeout=5000)
        assert phone.url == url
        solution.scroll_into_view_if_needed()
        phone.screenshot(path=str(TOP / "_build" / "screenshots" / "solution-open-phone.png"))
    finally:
        phone.close()


def test_search_snippets_do_not_reveal_hidden_solutions(page):
    """ "winner" occurs only inside a hidden solution (the winner's curse)."""
    search = page.context.new_page()
    try:
        search.goto(f"{page.base}/search.html?q=winner", wait_until="load")
        results = search.locator("#search-results ul.search li")
        results.first.wait_for(timeout=10000)
        search.wait_for_function(
            "document.querySelectorAll('#search-results li p.context').length"
            " === document.querySelectorAll('#search-results li').length"
        )
        pages = [a.get_attribute("href") for a in results.locator("a").all()]
        assert any("what-is-hpo-solutions" in href for href in pages)
        snippets = results.locator("p.context").all_inner_texts()
        assert snippets and not any("winner" in s.lower() for s in snippets), snippets
    finally:
        search.close()


@pytest.mark.parametrize("width, height", [(1280, 900), (390, 844)])
def test_screenshots_of_19_1_as_a_reader_sees_it(page, width, height):
    """Kept in _build/screenshots/ for a person to look at: the top of the page, the
    table, a figure and an open solution, on a desktop and on a phone."""
    view = page.context.new_page()
    folder = TOP / "_build" / "screenshots"
    try:
        view.set_viewport_size({"width": width, "height": height})
        view.goto(f"{page.base}/chapter19/what-is-hpo.html", wait_until="load")
        shots = {"top": None}
        shots["table"] = view.locator("article table", has_text="Hyperparameter Ranges")
        shots["figure"] = view.locator("article figure").nth(1)
        for name, target in shots.items():
            if target is not None:
                target.scroll_into_view_if_needed()
            view.screenshot(path=str(folder / f"what-is-hpo-{width}-{name}.png"))
        view.goto(f"{page.base}/chapter19/what-is-hpo-solutions.html", wait_until="load")
        title = view.locator("article .solution.dropdown .admonition-title").first
        title.scroll_into_view_if_needed()
        title.click(position={"x": 5, "y": 5})
        view.get_by_text("Why this is a problem").first.wait_for(state="visible")
        view.screenshot(path=str(folder / f"what-is-hpo-{width}-solution.png"))
    finally:
        view.close()
    for name in ("top", "table", "figure", "solution"):
        with Image.open(folder / f"what-is-hpo-{width}-{name}.png") as shot:
            assert shot.size == (width, height)


@pytest.mark.parametrize(
    "path",
    [
        f"chapter19/{name}.html"
        for name in ("what-is-hpo", "what-is-hpo-solutions", "hyperopt-api",
                     "hyperopt-api-solutions", "rs-async", "rs-async-solutions",
                     "sh-intro", "sh-intro-solutions", "sh-async",
                     "sh-async-solutions")
    ],
)  # fmt: skip
def test_code_fits_the_column_at_1280_pixels(page, path):
    view = page.context.new_page()
    try:
        view.set_viewport_size({"width": 1280, "height": 900})
        view.goto(f"{page.base}/{path}", wait_until="load")
        view.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        widths = view.evaluate(
            "Array.from(document.querySelectorAll('article .cell_input pre, article .output pre'))"
            ".filter(p => p.offsetParent !== null).map(p => [p.scrollWidth, p.clientWidth])"
        )
    finally:
        view.close()
    assert len(widths) >= 5  # the page has code to check
    assert [w for w in widths if w[0] > w[1]] == []  # no code block scrolls sideways


def test_the_solutions_sit_inside_19_1_in_the_sidebar_as_their_number_says(page):
    page.goto(f"{page.base}/chapter19/what-is-hpo-solutions.html", wait_until="load")
    try:
        nested = page.evaluate(
            "Array.from(document.querySelectorAll('.bd-sidebar li'))"
            ".filter(li => li.querySelector(':scope > a')?.textContent.startsWith('19.1. '))"
            ".map(li => Array.from(li.querySelectorAll(':scope li > a'))"
            ".map(a => a.textContent.trim()))"
        )
        assert nested == [["19.1.5. Solutions to the Exercises"]]
        assert texts(page, "article h1")[0].startswith("19.1.5.")
    finally:
        page.goto(f"{page.base}/chapter19/what-is-hpo.html", wait_until="load")
