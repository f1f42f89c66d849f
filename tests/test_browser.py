"""The rendered book works offline: a built chapter, opened in headless Chromium with the network off.

One chapter (chapter 0: formulas using the book's macros, a figure, exercises with folded
solutions) is executed in the smoke profile and built into a temporary folder; Chromium opens
it from a file:// URL, with every host name unresolvable and a dead proxy, and the test reads
the page as it is after its scripts ran. MathJax must come from the build (_static/mathjax):
the same page pointing at the CDN, or without the book's macros, fails the same checks.
Skipped, with one line, where no Chromium is installed (.ci/run installs it).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = "notebooks/00_first_vae.ipynb"
PAGE = "notebooks/00_first_vae.html"
LOCAL_MATHJAX = "_static/mathjax/tex-chtml.js"
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")


def load_book_tool():
    spec = importlib.util.spec_from_file_location("book", ROOT / "tools" / "book.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def html_dir(tmp_path_factory) -> Path:
    """Chapter 0 executed in the smoke profile and built with the book's configuration (about 15 s)."""
    book, out = load_book_tool(), tmp_path_factory.mktemp("book")
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["execute"]["execute_notebooks"] = "force"
    (out / "_config.yml").write_text(yaml.safe_dump(config))
    toc = book.write_toc([CHAPTER], out)
    command = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(ROOT), "--config", str(out / "_config.yml"),
               "--toc", str(toc), "--path-output", str(out), "-W", "-n", "--keep-going"]
    env = {**os.environ, "VAEBOOK_PROFILE": "smoke", "VAEBOOK_DEVICE": "cpu", "TQDM_DISABLE": "1"}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out / "_build" / "html"


def render(page: Path, profile: Path) -> str:
    """The page's DOM after its scripts ran, in headless Chromium with no network."""
    command = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",   # no host resolves, no proxy answers
               f"--user-data-dir={profile}", "--virtual-time-budget=10000", "--dump-dom", page.as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "</html>" in done.stdout, done.stderr[-2000:]
    return done.stdout


class VisibleText(HTMLParser):
    """The text a reader sees: not scripts, styles, code, or MathJax's hidden MathML copy."""
    HIDDEN = {"script", "style", "pre", "code", "mjx-assistive-mml"}

    def __init__(self):
        super().__init__()
        self.depth, self.parts = 0, []

    def handle_starttag(self, tag, attrs):
        self.depth += tag in self.HIDDEN

    def handle_endtag(self, tag):
        self.depth -= tag in self.HIDDEN

    def handle_data(self, data):
        if not self.depth:
            self.parts.append(data)


def visible_text(dom: str) -> str:
    parser = VisibleText()
    parser.feed(dom)
    return "".join(parser.parts)


def math_count(html: str) -> int:
    """The formulas Sphinx wrote: each is a span (inline) or div (display) of class math."""
    return len(re.findall(r'<(?:span|div) class="math notranslate nohighlight"', html))


def typeset_problems(source: str, dom: str) -> list[str]:
    """What is wrong with the maths of a rendered page (empty when every formula was typeset)."""
    problems = []
    formulas, containers = math_count(source), dom.count("<mjx-container")
    if formulas == 0 or containers != formulas:
        problems.append(f"{containers} mjx-container elements for {formulas} formulas")
    text = visible_text(dom)
    for raw in ("$$", "\\(", "\\[", "\\KL", "\\begin{"):
        if raw in text:
            problems.append(f"raw TeX {raw!r} left in the page's text")
    if 'mathcolor="red"' in dom or "<merror" in dom:
        problems.append("MathJax marked a formula as an error (an undefined macro?)")
    if not re.search(r"<mi[^>]*>KL</mi>", dom):
        problems.append(r"no \KL typeset as the upright KL of the book's macros")
    return problems


def test_mathjax_is_served_from_the_build(html_dir):
    """The page loads MathJax 3 from its own _static folder, not from a CDN, with the book's macros."""
    html = (html_dir / PAGE).read_text()
    scripts = re.findall(r'<script[^>]*src="([^"]*mathjax[^"]*)"', html, flags=re.I)
    assert scripts == [f"../{LOCAL_MATHJAX}"]
    assert not re.search(r'src="(https?:)?//[^"]*mathjax', html, flags=re.I)
    assert (html_dir / LOCAL_MATHJAX).is_file()
    assert (html_dir / "_static/mathjax/output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff").is_file()
    assert '"KL": "\\\\mathrm{KL}"' in html        # _config.yml's mathjax3_config reaches the page


@pytest.mark.skipif(BROWSER is None, reason="no chromium on PATH: the offline browser test is skipped")
def test_the_chapter_works_offline_in_chromium(html_dir):
    """Every formula typeset (\\KL by the book's macro), the figure and the folded solutions there, with no network."""
    source = (html_dir / PAGE).read_text()
    dom = render(html_dir / PAGE, html_dir.parent / "chromium-profile")
    assert typeset_problems(source, dom) == []

    figures = re.findall(r'<img[^>]*src="\.\./(_images/[^"]+\.png)"', dom)
    assert figures and all((html_dir / f).is_file() for f in figures), "no figure on the page"
    assert 'class="exercise admonition"' in dom, "no exercise on the page"
    # sphinx-exercise's solutions, folded by sphinx-togglebutton's script (which ran: it adds the toggle classes)
    solutions = dom.count('class="solution dropdown admonition toggle toggle-hidden"')
    assert solutions >= 1 and dom.count('class="toggle-button toggle-button-hidden"') >= solutions, "no folded solution"

    # Sanity: the network really is off (the CDN's MathJax never loads), and an undefined macro is caught.
    from sphinx.ext.mathjax import MATHJAX_URL   # what Sphinx loads when nothing else is set

    cdn = html_dir / PAGE.replace(".html", "-cdn.html")
    cdn.write_text(source.replace(f"../{LOCAL_MATHJAX}", MATHJAX_URL))
    problems = typeset_problems(source, render(cdn, html_dir.parent / "chromium-cdn"))
    assert any("mjx-container" in p for p in problems) and any("raw TeX" in p for p in problems), problems
    no_macro = html_dir / PAGE.replace(".html", "-no-macro.html")
    no_macro.write_text(source.replace('"KL": ', '"KLnot": ', 1))
    problems = typeset_problems(source, render(no_macro, html_dir.parent / "chromium-no-macro"))
    assert any("error" in p for p in problems) and any("upright KL" in p for p in problems), problems
