"""Sphinx configuration of calibkit's documentation.

Build (warnings are errors)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Before Sphinx reads anything, this file writes the generated sources: the API
reference (``api.rst``, from every public module's ``__all__``), the CLI
reference (``generated/cli.inc``, from ``calibkit.cli.build_parser()``) and
the gallery sources (``_gallery_src/``, the ``examples/plot_*.py`` scripts).
"""

import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # the gallery and executed blocks never open windows

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))

import calibkit_docs  # noqa: E402
import calibkit_offline  # noqa: E402

import calibkit  # noqa: E402

calibkit_docs.write_api_reference(DOCS)
calibkit_docs.write_cli_reference(DOCS)
calibkit_docs.sync_gallery_sources(
    ROOT / "examples", DOCS / "_gallery_src", DOCS / "gallery_header.rst"
)

# -- project --------------------------------------------------------------------------

project = "calibkit"
author = "calibkit developers"
copyright = "calibkit developers"
version = release = calibkit.__version__

# -- extensions -----------------------------------------------------------------------

extensions = [
    "calibkit_docs",
    "calibkit_offline",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "matplotlib.sphinxext.plot_directive",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "_gallery_src",
    "generated/*.inc",
    "gallery_header.rst",
    # left over by builds of sphinx-gallery with write_computation_times on:
    # its table loads scripts from a CDN
    "sg_execution_times.rst",
    "auto_examples/sg_execution_times.rst",
]
default_role = "literal"

# The site works from a copied folder with no network: MathJax is shipped in
# _static/mathjax (calibkit_offline), nothing is loaded from another host
# (tests/test_docs.py checks every page and style sheet).
mathjax_path = calibkit_offline.MATHJAX_PATH

autosummary_generate = True
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "none"

numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False
# Every docstring is validated as it is rendered; a failure is a warning, so an
# error under -W. The skipped checks are justified in calibkit_docs; known
# offenders (docs/numpydoc_allowlist.txt, checked code by code by
# tests/test_docstrings.py) are skipped until they are fixed.
numpydoc_validation_checks = {"all", *calibkit_docs.NUMPYDOC_SKIPPED_CHECKS}
numpydoc_validation_exclude = calibkit_docs.numpydoc_excluded_objects()

plot_include_source = True
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 110)]
plot_rcparams = {"figure.dpi": 110}

# -- gallery --------------------------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": ["_gallery_src"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    # Every build runs every script, even one unchanged since the last build,
    # so that a change in calibkit that breaks an example fails the build.
    "run_stale_examples": True,
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    # Its page of run times loads jQuery and DataTables from CDNs.
    "write_computation_times": False,
}
if os.environ.get("CALIBKIT_DOCS_SKIP_GALLERY"):
    # For quick local iterations on the prose only: render, do not run.
    sphinx_gallery_conf["plot_gallery"] = "False"

# -- HTML -----------------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"calibkit {release}"
html_static_path = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_show_sourcelink = False
