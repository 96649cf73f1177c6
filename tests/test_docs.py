"""The documentation builds without a warning, and its generated parts are complete.

The full build (``-m docs``) runs Sphinx with ``-W`` in a subprocess: it executes
the gallery scripts and every ``calibkit-run`` block of the user guide, so a
broken example, a failing snippet or a docstring that is not valid reST fails
it. The other tests check the generators of the API and CLI references directly.
"""

import argparse
import importlib
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("sphinx")
pytest.importorskip("numpydoc")
pytest.importorskip("sphinx_gallery")
pytest.importorskip("pydata_sphinx_theme")

DOCS = Path(__file__).resolve().parents[1] / "docs"
sys.path.insert(0, str(DOCS / "_ext"))

import calibkit_docs  # noqa: E402


@pytest.mark.docs
def test_docs_build_without_warnings(tmp_path):
    html, doctrees = tmp_path / "html", tmp_path / "doctrees"
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q"]
    command += ["-b", "html", "-d", str(doctrees), str(DOCS), str(html)]
    env = {**os.environ, "MPLBACKEND": "Agg"}
    env.pop("CALIBKIT_DOCS_SKIP_GALLERY", None)
    result = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=600, check=False
    )
    assert result.returncode == 0, result.stderr[-5000:]
    # Every gallery script ran and produced at least one figure.
    scripts = sorted(p.stem for p in (DOCS.parent / "examples").glob("plot_*.py"))
    assert scripts
    for stem in scripts:
        page = (html / "auto_examples" / f"{stem}.html").read_text(encoding="utf-8")
        assert f"sphx_glr_{stem}_001.png" in page, stem
    # The user guide's executed blocks left their output in the pages.
    guide = (html / "user_guide" / "decomposition.html").read_text(encoding="utf-8")
    assert "calibkit-output" in guide


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
