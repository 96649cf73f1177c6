"""Formulas that render without a network: MathJax is shipped with the site.

``sphinx.ext.mathjax`` points every page with maths at a CDN by default, so a
copied folder of the docs, opened with no network, shows raw LaTeX. This
extension copies MathJax 3 (from the PyPI package ``sphinx-mathjax-offline``,
which vendors its files) into ``_static/mathjax`` of the built site, and
``conf.py`` sets ``mathjax_path = "mathjax/tex-chtml.js"`` so the pages load
that copy. Only what the CommonHTML output of TeX input can load is copied:
the combined ``tex-chtml.js`` component, the TeX extensions it autoloads, the
CommonHTML fonts, and the menu and accessibility components (with the speech
rule engine) that its context menu loads on demand -- about 7 MB instead of the
package's 24 MB.

``tests/test_docs.py`` checks the built site: no page loads a script, style,
font, image or frame from another host.
"""

import importlib.util
import shutil
from pathlib import Path

from sphinx.errors import ExtensionError

#: The PyPI distribution that vendors MathJax (its import name has hyphens).
MATHJAX_PACKAGE = "sphinx-mathjax-offline"
#: ``mathjax_path`` for ``conf.py``: relative to ``_static`` of the built site.
MATHJAX_PATH = "mathjax/tex-chtml.js"
#: Parts of the MathJax distribution that ``tex-chtml.js`` may load, relative
#: to its folder (other combined components and the SVG output are left out).
MATHJAX_PARTS = (
    "tex-chtml.js",
    "input/tex/extensions",
    "output/chtml/fonts",
    "ui",
    "a11y",
    "sre",
)


def mathjax_source():
    """The folder of the vendored MathJax distribution.

    Returns
    -------
    pathlib.Path
        ``static/mathjax`` of the installed ``sphinx-mathjax-offline``.

    Raises
    ------
    sphinx.errors.ExtensionError
        If the package is not installed or holds no ``tex-chtml.js``.
    """
    spec = importlib.util.find_spec(MATHJAX_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ExtensionError(
            f"the docs ship MathJax from the package {MATHJAX_PACKAGE!r}: "
            f'pip install -e ".[docs]"'
        )
    source = Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax"
    if not (source / MATHJAX_PATH.split("/", 1)[1]).is_file():
        raise ExtensionError(f"no tex-chtml.js in {source}")
    return source


def copy_mathjax(source, static_dir):
    """Copy the parts of MathJax that the pages can load into ``static_dir``.

    Parameters
    ----------
    source : path-like
        The MathJax distribution (see :func:`mathjax_source`).
    static_dir : path-like
        ``_static`` of the built site; MathJax goes to its ``mathjax`` folder.
    """
    source, target = Path(source), Path(static_dir) / "mathjax"
    for part in MATHJAX_PARTS:
        origin = source / part
        if origin.is_dir():
            shutil.copytree(origin, target / part, dirs_exist_ok=True)
        elif origin.is_file():
            (target / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, target / part)


def _check_path(app, config):
    if config.mathjax_path != MATHJAX_PATH:
        raise ExtensionError(
            f"calibkit_offline ships MathJax: set mathjax_path = {MATHJAX_PATH!r}"
        )
    mathjax_source()  # fail at the start of a build, not at its end


def _copy_on_success(app, exception):
    if exception is None and app.builder.format == "html":
        copy_mathjax(mathjax_source(), Path(app.outdir) / "_static")


def setup(app):
    app.setup_extension("sphinx.ext.mathjax")
    app.connect("config-inited", _check_path)
    app.connect("build-finished", _copy_on_success)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
