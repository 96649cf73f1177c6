"""The documentation builds without a warning, and its generated parts are complete.

The full build (``-m docs``) runs Sphinx with ``-W`` in a subprocess: it executes
the gallery scripts and every ``calibkit-run`` block of the user guide, so a
broken example, a failing snippet or a docstring that is not valid reST fails
it. The other tests check the generators of the API and CLI references directly.
"""

import argparse
import contextlib
import importlib
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType
from urllib.parse import unquote, urlsplit

import pytest

pytest.importorskip("sphinx")
pytest.importorskip("numpydoc")
pytest.importorskip("sphinx_gallery")

# The build writes the gallery into docs/: keep this module on one xdist worker
# (built_site also locks, should the tests still be spread).
pytestmark = pytest.mark.xdist_group("sphinx")
pytest.importorskip("pydata_sphinx_theme")

DOCS = Path(__file__).resolve().parents[1] / "docs"
sys.path.insert(0, str(DOCS / "_ext"))

import calibkit_docs  # noqa: E402
import calibkit_offline  # noqa: E402


@pytest.fixture(scope="module")
def built_site(tmp_path_factory):
    """Build the docs once per test session (``-W``); the HTML folder.

    The build writes the gallery into ``docs/``, so two builds must never run
    at once. Under pytest-xdist the workers share one build: the first to
    take the lock builds, the others wait and read its result.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:
        out = tmp_path_factory.mktemp("docs")
    else:  # the session's folder, shared by its workers
        out = tmp_path_factory.getbasetemp().parent / "docs-build"
    out.mkdir(exist_ok=True)
    with _exclusive(out.parent / f"{out.name}.lock"):
        status = out / "status"
        if not status.exists():
            status.write_text(_build(out), encoding="utf-8")
    failure = status.read_text(encoding="utf-8")
    assert not failure, failure
    return out / "html"


def _build(out):
    """Run Sphinx into ``out``; "" on success, else the end of its stderr."""
    html, doctrees = out / "html", out / "doctrees"
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q"]
    command += ["-b", "html", "-d", str(doctrees), str(DOCS), str(html)]
    env = {**os.environ, "MPLBACKEND": "Agg"}
    env.pop("CALIBKIT_DOCS_SKIP_GALLERY", None)
    result = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=600, check=False
    )
    return "" if result.returncode == 0 else result.stderr[-5000:] or "failed"


@contextlib.contextmanager
def _exclusive(path):
    """An exclusive lock on ``path`` across processes (POSIX; none elsewhere)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows runs one process
        yield
        return
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.mark.docs
def test_docs_build_without_warnings(built_site):
    html = built_site
    # Every gallery script ran and produced at least one figure.
    scripts = sorted(p.stem for p in (DOCS.parent / "examples").glob("plot_*.py"))
    assert scripts
    for stem in scripts:
        page = (html / "auto_examples" / f"{stem}.html").read_text(encoding="utf-8")
        assert f"sphx_glr_{stem}_001.png" in page, stem
    # The user guide's executed blocks left their output in the pages.
    guide = (html / "user_guide" / "decomposition.html").read_text(encoding="utf-8")
    assert "calibkit-output" in guide


# --- the built site loads nothing from another host ----------------------------------

#: ``<link rel=...>`` values whose target the browser fetches while rendering.
_LOADED_LINKS = {"stylesheet", "preload", "modulepreload", "icon", "shortcut"}
_CSS_URL = re.compile(r"""url\(\s*(['"]?)(.*?)\1\s*\)""", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"""@import\s+(['"])(.*?)\1""", re.IGNORECASE)


class _LoadedResources(HTMLParser):
    """The URLs that a page makes the browser fetch as it renders."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.urls = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        attrs = {name: value or "" for name, value in attrs}
        if tag in ("script", "img", "iframe", "embed", "audio", "video", "source"):
            self.urls.append(attrs.get("src", ""))
        if tag == "img" and attrs.get("srcset"):
            self.urls += [part.split()[0] for part in attrs["srcset"].split(",")]
        if tag == "object":
            self.urls.append(attrs.get("data", ""))
        if tag == "link" and _LOADED_LINKS & set(attrs.get("rel", "").lower().split()):
            self.urls.append(attrs.get("href", ""))
        if "style" in attrs:
            self.urls += css_urls(attrs["style"])
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.urls += css_urls(data)


def css_urls(css):
    """Every URL a style sheet loads: ``url(...)`` and ``@import "..."``."""
    return [m.group(2) for m in _CSS_URL.finditer(css)] + [
        m.group(2) for m in _CSS_IMPORT.finditer(css)
    ]


def html_urls(page):
    """Every URL an HTML page loads (scripts, styles, fonts, images, frames)."""
    parser = _LoadedResources()
    parser.feed(page)
    parser.close()
    return [url.strip() for url in parser.urls if url.strip()]


def _is_remote(url):
    parts = urlsplit(url)
    return bool(parts.netloc) or parts.scheme not in ("", "data", "file")


def remote_loads(site):
    """``(file, url)`` of every resource that ``site`` loads from another host."""
    site = Path(site)
    found = []
    for path in sorted(site.rglob("*")):
        if path.suffix == ".html":
            urls = html_urls(path.read_text(encoding="utf-8"))
        elif path.suffix == ".css":
            urls = css_urls(path.read_text(encoding="utf-8"))
        else:
            continue
        found += [(str(path.relative_to(site)), u) for u in urls if _is_remote(u)]
    return found


def missing_local_loads(site):
    """``(file, url)`` of every relative resource the site's pages lack.

    HTML files under ``_static`` are the theme's templates, not pages.
    """
    site = Path(site)
    missing = []
    for path in sorted(site.rglob("*.html")):
        if "_static" in path.relative_to(site).parts:
            continue
        for url in html_urls(path.read_text(encoding="utf-8")):
            parts = urlsplit(url)
            if _is_remote(url) or parts.scheme or not parts.path:
                continue
            if not (path.parent / unquote(parts.path)).exists():
                missing.append((str(path.relative_to(site)), url))
    return missing


def test_remote_loads_finds_every_kind_of_remote_resource(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "page.html").write_text(
        "<html><head>"
        '<script src="https://cdn.example.org/mathjax.js"></script>'
        '<script src="../_static/local.js"></script>'
        '<link rel="stylesheet" href="//fonts.example.org/css">'
        '<link rel="preload" as="font" href="http://fonts.example.org/a.woff2">'
        '<link rel="icon" href="https://example.org/favicon.ico">'
        '<link rel="canonical" href="https://example.org/page.html">'
        "<style>@import 'https://example.org/imported.css';</style>"
        "</head><body>"
        '<a href="https://doi.org/10.1/x">a reference</a>'
        '<img src="https://example.org/pic.png" alt="">'
        '<img src="data:image/png;base64,AAAA" alt="">'
        '<div style="background: url(https://example.org/bg.png)"></div>'
        '<iframe src="https://example.org/binder"></iframe>'
        "</body></html>",
        encoding="utf-8",
    )
    (tmp_path / "theme.css").write_text(
        "@font-face { src: url('../fonts/local.woff2'), "
        'url("https://example.org/f.woff"); }\n'
        '@import "https://example.org/more.css";\n'
        ".x { background: url(data:,x) }",
        encoding="utf-8",
    )
    found = remote_loads(tmp_path)
    assert sorted(found) == sorted(
        [
            ("sub/page.html", "https://cdn.example.org/mathjax.js"),
            ("sub/page.html", "//fonts.example.org/css"),
            ("sub/page.html", "http://fonts.example.org/a.woff2"),
            ("sub/page.html", "https://example.org/favicon.ico"),
            ("sub/page.html", "https://example.org/imported.css"),
            ("sub/page.html", "https://example.org/pic.png"),
            ("sub/page.html", "https://example.org/bg.png"),
            ("sub/page.html", "https://example.org/binder"),
            ("theme.css", "https://example.org/f.woff"),
            ("theme.css", "https://example.org/more.css"),
        ]
    )
    # The one relative script is missing from this toy site.
    assert missing_local_loads(tmp_path) == [("sub/page.html", "../_static/local.js")]


def test_copy_mathjax_copies_what_tex_chtml_loads(tmp_path):
    source = tmp_path / "mathjax"
    for name in [
        "tex-chtml.js",
        "tex-svg.js",
        "output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff",
        "output/svg/fonts/tex.js",
        "input/tex/extensions/ams.js",
        "sre/mathmaps/en.json",
    ]:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(name, encoding="utf-8")
    calibkit_offline.copy_mathjax(source, tmp_path / "_static")
    copied = sorted(
        str(p.relative_to(tmp_path / "_static" / "mathjax"))
        for p in (tmp_path / "_static").rglob("*")
        if p.is_file()
    )
    assert copied == [
        "input/tex/extensions/ams.js",
        "output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff",
        "sre/mathmaps/en.json",
        "tex-chtml.js",
    ]


@pytest.mark.docs
def test_site_loads_nothing_from_another_host(built_site):
    pages = list(built_site.rglob("*.html"))
    assert len(pages) > 20
    assert remote_loads(built_site) == []
    assert missing_local_loads(built_site) == []
    # The pages with formulas load the MathJax shipped in the site.
    page = (built_site / "user_guide" / "decomposition.html").read_text("utf-8")
    assert f"../_static/{calibkit_offline.MATHJAX_PATH}" in html_urls(page)
    mathjax = built_site / "_static" / "mathjax"
    assert (mathjax / "output" / "chtml" / "fonts" / "woff-v2").is_dir()
    assert (mathjax / "input" / "tex" / "extensions" / "ams.js").is_file()


def _exported(module_name):
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", [])
    exported = {n: getattr(module, n) for n in names if n not in calibkit_docs.API_SKIP}
    return {n: obj for n, obj in exported.items() if not isinstance(obj, ModuleType)}


def test_api_reference_lists_every_public_name_once():
    entries = calibkit_docs.api_entries()
    listed = [
        getattr(importlib.import_module(module), name)
        for module, _, _, names in entries
        for name in names
    ]
    # Functions and classes get one page each, under the first module exporting
    # them (constants such as SCHEMA_VERSION are compared by value, so skipped).
    pages = [id(obj) for obj in listed if callable(obj)]
    assert len(pages) == len(set(pages))
    for module_name in calibkit_docs.public_modules():
        for name, obj in _exported(module_name).items():
            assert any(obj is doc for doc in listed), (
                f"{module_name}.{name} is not in the API reference"
            )


def test_public_modules_skip_private_ones():
    modules = calibkit_docs.public_modules()
    assert "calibkit" in modules
    assert "calibkit.metrics" in modules
    assert not [m for m in modules if any(p.startswith("_") for p in m.split("."))]


def _toy_parser():
    parser = argparse.ArgumentParser(prog="tool", description="Does *things*.")
    parser.add_argument("--level", type=int, default=3, help="how far (%(default)s)")
    sub = parser.add_subparsers(title="subcommands", metavar="SUBCOMMAND")
    run = sub.add_parser("run", help="run it", description="Run the_thing.")
    run.add_argument("path", metavar="PATH", help="input file")
    run.add_argument("--mode", choices=("a", "b"), default="a", help="which mode")
    run.add_argument("-o", "--output", required=True, metavar="OUT", help="file")
    run.add_argument("--hidden", help=argparse.SUPPRESS)
    return parser


def test_cli_reference_renders_every_option_and_subcommand():
    text = "\n".join(calibkit_docs.cli_reference_lines(_toy_parser()))
    assert "``tool``" in text
    assert "``tool run``" in text
    assert ".. _cli-run:" in text
    assert "``--level LEVEL``" in text
    assert "how far (3)" in text  # %(default)s is expanded
    assert "``--mode {a,b}``" in text
    assert "one of ``a``, ``b``" in text
    assert "default ``a``" in text
    assert "``-o OUT, --output OUT``" in text
    assert "required" in text
    assert "``PATH``" in text
    assert "--hidden" not in text
    # reST markup in help texts is shown literally, not interpreted.
    assert "Does \\*things\\*." in text
    assert "the\\_thing" in text


def test_cli_reference_covers_the_calibkit_parser():
    cli = pytest.importorskip("calibkit.cli")
    parser = cli.build_parser()
    text = "\n".join(calibkit_docs.cli_reference_lines(parser))
    subparsers = [
        a for a in parser._actions if isinstance(a, argparse._SubParsersAction)
    ]
    for action in subparsers:
        for name, subparser in action.choices.items():
            assert f"``calibkit {name}``" in text
            for option in subparser._actions:
                for flag in option.option_strings:
                    if option.help != argparse.SUPPRESS:
                        assert flag in text, (name, flag)


def test_parameter_types_escape_attribute_names():
    lines = [
        "feature_names_in_ : ndarray of shape (n_features_in_,)",
        "Some prose mentioning coef_ stays as written.",
    ]
    calibkit_docs.escape_attribute_names_in_types(None, "class", "x", None, {}, lines)
    assert lines[0] == "feature_names_in_ : ndarray of shape (``n_features_in_``,)"
    assert lines[1] == "Some prose mentioning coef_ stays as written."
