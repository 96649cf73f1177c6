"""Sphinx helpers for calibkit's documentation.

- ``.. calibkit-run::`` executes a block of Python while the docs build and
  shows the code followed by what it printed; ``:calc:`expr``` puts the value
  of an expression (evaluated in the same namespace) into the prose. Numbers in
  the user guide therefore come from running the code, never from typing them.
- ``write_api_reference`` writes ``api.rst`` from the ``__all__`` of every
  public module, so that each public name is documented exactly once.
- ``write_cli_reference`` renders the ``calibkit`` command's argparse parser.
- ``sync_gallery_sources`` copies ``examples/plot_*.py`` next to a gallery
  header for sphinx-gallery.

Everything here fails loudly: an exception or warning in executed code, a
missing parser or a public name that cannot be imported stops a ``-W`` build.
"""

import argparse
import contextlib
import importlib
import importlib.util
import inspect
import io
import os
import pkgutil
import re
import types
import warnings
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective

_NAMESPACE_KEY = "calibkit_run_namespace"


# --- executed code -----------------------------------------------------------------


def _namespace(env):
    """Globals shared by the executed blocks of one document (reset per document)."""
    return env.temp_data.setdefault(_NAMESPACE_KEY, {"__name__": "__calibkit_docs__"})


def run_code(code, namespace, where):
    """Execute ``code`` in ``namespace``; return what it printed. Warnings are errors.

    ``tests/test_snippets.py`` runs the guide's blocks with this same function,
    so the fast test and the docs build execute code alike.
    """
    out = io.StringIO()
    with (
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(out),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("error")
        exec(compile(code, where, "exec"), namespace)
    return out.getvalue()


class RunDirective(SphinxDirective):
    """Run the content as Python; show the code and its printed output.

    Options: ``:hide-code:`` shows only the output, ``:hide-output:`` only the
    code (the block still runs, e.g. to define names used by ``:calc:``).
    ``:requires: torch, jax`` shows the code without running it, with a note,
    when one of those optional libraries is not installed, so the docs build
    without them (CI installs them and runs the block).
    """

    has_content = True
    option_spec = {
        "hide-code": directives.flag,
        "hide-output": directives.flag,
        "requires": directives.unchanged,
    }

    def run(self):
        code = "\n".join(self.content)
        where = f"<{self.env.docname}.rst, line {self.lineno}>"
        missing = missing_modules(self.options.get("requires", ""))
        if missing:
            note = f"(Not run in this build: {', '.join(missing)} is not installed.)"
            return [
                nodes.literal_block(code, code, language="python"),
                nodes.paragraph(note, note),
            ]
        try:
            printed = run_code(code, _namespace(self.env), where)
        except Exception as exc:
            msg = f"calibkit-run block failed: {type(exc).__name__}: {exc}"
            raise self.error(msg) from exc
        shown = []
        if "hide-code" not in self.options:
            block = nodes.literal_block(code, code, language="python")
            shown.append(block)
        if printed.strip() and "hide-output" not in self.options:
            text = printed.rstrip("\n")
            block = nodes.literal_block(text, text, language="none")
            block["classes"].append("calibkit-output")
            shown.append(block)
        return shown


def missing_modules(requires):
    """The modules of a comma-separated ``:requires:`` list that do not import."""
    names = [name.strip() for name in requires.split(",") if name.strip()]
    return [name for name in names if importlib.util.find_spec(name) is None]


def calc_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """``:calc:`expr```: the ``str`` of ``expr`` evaluated in the page's namespace."""
    env = inliner.document.settings.env
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            value = eval(text, _namespace(env))
    except Exception as exc:
        msg = inliner.reporter.error(
            f"calc role could not evaluate {text!r}: {type(exc).__name__}: {exc}",
            line=lineno,
        )
        return [inliner.problematic(rawtext, rawtext, msg)], [msg]
    return [nodes.Text(str(value))], []


# --- API reference -------------------------------------------------------------------

#: Sections of the API reference, in order: (module, title). Public modules not
#: listed here get a section of their own after these, so nothing is left out.
API_SECTIONS = [
    ("calibkit", "Calibrators and persistence"),
    ("calibkit.metrics", "Metrics"),
    ("calibkit.plotting", "Plotting"),
    ("calibkit.report", "Reports"),
    ("calibkit.io", "Reading and writing prediction files"),
    ("calibkit.cli", "Command line entry point"),
    ("calibkit.exceptions", "Warnings"),
]

#: Names that are public but not worth a page.
API_SKIP = {"__version__"}


def public_modules(package="calibkit"):
    """Importable modules of ``package`` with no underscore in their dotted path."""
    root = importlib.import_module(package)
    names = [package]
    for info in pkgutil.walk_packages(root.__path__, package + "."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return names


def _public_names(module):
    """``module.__all__`` minus skipped names (empty when there is no ``__all__``)."""
    return [n for n in getattr(module, "__all__", []) if n not in API_SKIP]


def api_entries(package="calibkit"):
    """``[(module_name, title, summary, [names])]``: each object once.

    An object is listed under the first section (in ``API_SECTIONS`` order,
    then alphabetical) whose module exports it, so ``calibkit.metrics.log_loss``
    is documented there and not again under ``calibkit.metrics._scores``.
    """
    modules = public_modules(package)
    titles = dict(API_SECTIONS)
    order = [m for m, _ in API_SECTIONS if m in modules]
    order += sorted(m for m in modules if m not in titles)
    seen, entries = set(), []
    for module_name in order:
        module = importlib.import_module(module_name)
        names = []
        for name in _public_names(module):
            obj = getattr(module, name)  # AttributeError: a broken __all__
            if isinstance(obj, types.ModuleType):
                continue  # subpackages listed in __all__ get their own section
            key = id(obj) if callable(obj) or isinstance(obj, type) else None
            if key is not None and key in seen:
                continue
            if key is not None:
                seen.add(key)
            names.append(name)
        if names:
            summary = (module.__doc__ or "").strip().split("\n\n")[0]
            title = titles.get(module_name, f"``{module_name}``")
            entries.append((module_name, title, " ".join(summary.split()), names))
    return entries


def write_api_reference(srcdir):
    """Write ``api.rst``: one autosummary table per public module."""
    lines = [
        ".. This file is generated by docs/_ext/calibkit_docs.py; do not edit.",
        "",
        ".. _api:",
        "",
        "API reference",
        "=============",
        "",
        "Every public name of calibkit, grouped by the module you import it from.",
        "Logarithms are natural throughout: log-losses, entropies and divergences",
        "are in nats.",
        "",
    ]
    entries = api_entries()
    # Stub pages of names that are no longer public would be orphans (a
    # warning, and an error under -W): keep only the current ones.
    current = {
        f"{module}.{name}.rst" for module, _, _, names in entries for name in names
    }
    for stub in (Path(srcdir) / "api").glob("*.rst"):
        if stub.name not in current:
            stub.unlink()
    for module_name, title, summary, names in entries:
        lines += [title, "-" * len(title), ""]
        lines += [f"``import {module_name}``", ""]
        if summary:
            lines += [summary, ""]
        lines += [f".. currentmodule:: {module_name}", ""]
        lines += [".. autosummary::", "   :toctree: api", "   :nosignatures:", ""]
        lines += [f"   {name}" for name in names]
        lines += [""]
    _write_if_changed(Path(srcdir) / "api.rst", "\n".join(lines))


# --- CLI reference -------------------------------------------------------------------


def _escape(text):
    """Plain text as reStructuredText (no markup is interpreted)."""
    for char in ("\\", "*", "`", "|", "_", "[", "]"):
        text = text.replace(char, "\\" + char)
    return text


def _expanded_help(action, prog):
    """An action's help with argparse's ``%(default)s``-style fields filled in."""
    if not action.help or action.help == argparse.SUPPRESS:
        return ""
    params = {k: v for k, v in vars(action).items() if v is not argparse.SUPPRESS}
    params["prog"] = prog
    if params.get("choices") is not None:
        params["choices"] = ", ".join(str(c) for c in params["choices"])
    return action.help % params


def _invocation(action):
    """How an option or positional appears on the command line."""
    if not action.option_strings:
        return action.metavar or action.dest
    if action.nargs == 0:
        return ", ".join(action.option_strings)
    metavar = action.metavar or action.dest.upper()
    if action.choices is not None and action.metavar is None:
        metavar = "{" + ",".join(str(c) for c in action.choices) + "}"
    return ", ".join(f"{opt} {metavar}" for opt in action.option_strings)


def _action_lines(action, prog):
    lines = [f"``{_invocation(action)}``"]
    details = _escape(_expanded_help(action, prog))
    extra = []
    if action.required and action.option_strings:
        extra.append("required")
    if action.choices is not None:
        extra.append("one of " + ", ".join(f"``{c}``" for c in action.choices))
    if (
        action.option_strings
        and action.nargs != 0
        and action.default not in (None, argparse.SUPPRESS)
        and "default" not in (action.help or "")
    ):
        extra.append(f"default ``{action.default}``")
    if extra:
        details = (details + " " if details else "") + "(" + "; ".join(extra) + ")"
    lines.append("   " + (details or "(no description)"))
    return lines


def _literal(text):
    return ["::", "", *("    " + line for line in text.rstrip().splitlines()), ""]


def _parser_lines(parser, level_char, title):
    lines = [title, level_char * len(title), ""]
    lines += _literal(parser.format_usage().strip())
    if parser.description:
        lines += [_escape(parser.description), ""]
    subcommands = []
    for group in parser._action_groups:
        actions = [
            a
            for a in group._group_actions
            if a.help != argparse.SUPPRESS
            and not isinstance(a, argparse._SubParsersAction)
        ]
        subcommands += [
            a for a in group._group_actions if isinstance(a, argparse._SubParsersAction)
        ]
        if not actions:
            continue
        heading = group.title[:1].upper() + group.title[1:]
        lines += [f".. rubric:: {_escape(heading)}", ""]
        if group.description:
            lines += [_escape(group.description), ""]
        for action in actions:
            lines += [*_action_lines(action, parser.prog), ""]
    if parser.epilog:
        epilog = parser.epilog.strip("\n")
        if epilog.lower().startswith("examples:\n"):
            lines += [".. rubric:: Examples", ""]
            body = epilog.split("\n", 1)[1].splitlines()
            epilog = "\n".join(line.removeprefix("  ") for line in body)
        lines += _literal(epilog)
    return lines, subcommands


def cli_reference_lines(parser):
    """reStructuredText for ``parser`` and each of its subcommands."""
    lines, subcommand_actions = _parser_lines(parser, "-", f"``{parser.prog}``")
    for action in subcommand_actions:
        helps = {choice.dest: choice.help for choice in action._choices_actions}
        for name, subparser in action.choices.items():
            sub_lines, _ = _parser_lines(subparser, "~", f"``{parser.prog} {name}``")
            if helps.get(name):
                sub_lines[3:3] = [f"*{_escape(helps[name])}*", ""]
            lines += [f".. _cli-{name}:", "", *sub_lines]
    return lines


def write_cli_reference(srcdir):
    """Write ``generated/cli.inc`` from ``calibkit.cli.build_parser()``."""
    from calibkit.cli import build_parser

    # argparse wraps usage lines to the terminal width: fix it for the docs.
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "88"
    try:
        text = "\n".join(cli_reference_lines(build_parser())) + "\n"
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved
    _write_if_changed(Path(srcdir) / "generated" / "cli.inc", text)


# --- gallery -------------------------------------------------------------------------


def sync_gallery_sources(examples_dir, gallery_src, header):
    """Mirror ``examples_dir/plot_*.py`` into ``gallery_src`` with ``header``.

    sphinx-gallery needs a header file in the directory it reads; keeping the
    copy under ``docs/`` leaves ``examples/`` as plain scripts.
    """
    gallery_src = Path(gallery_src)
    gallery_src.mkdir(parents=True, exist_ok=True)
    wanted = {p.name: p for p in sorted(Path(examples_dir).glob("plot_*.py"))}
    for stale in gallery_src.glob("*.py"):
        if stale.name not in wanted:
            stale.unlink()
    for name, source in wanted.items():
        _write_if_changed(gallery_src / name, source.read_text(encoding="utf-8"))
    target = gallery_src / "GALLERY_HEADER.rst"
    _write_if_changed(target, Path(header).read_text(encoding="utf-8"))


def _write_if_changed(path, text):
    """Write ``text`` unless the file already holds it (keeps Sphinx's cache)."""
    path = Path(path)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


# --- autodoc -------------------------------------------------------------------------


def _defined_in_calibkit(obj):
    target = getattr(obj, "fget", obj)  # properties
    target = getattr(target, "__func__", target)  # class/static methods
    module = getattr(target, "__module__", None) or ""
    return module.startswith("calibkit")


def skip_foreign_members(app, what, name, obj, skip, options):
    """Leave out members inherited from scikit-learn (``get_params``, the
    ``set_*_request`` methods, ...): they are documented by scikit-learn and
    their docstrings link into its own documentation."""
    if what == "class" and not name.startswith("__") and not _defined_in_calibkit(obj):
        return True
    return None


#: A numpydoc parameter line, ``name : type``; group 2 is the type.
_PARAMETER_LINE = re.compile(r"^(\s*[*\w][\w, *]* : )(.*)$")
#: A bare word ending in ``_`` (``n_features_in_``), which reST reads as a link.
_TRAILING_UNDERSCORE = re.compile(r"(?<![`\w\\])([A-Za-z]\w*_)(?![`\w])")


def escape_attribute_names_in_types(app, what, name, obj, options, lines):
    """Escape fitted-attribute names in parameter types, as in
    ``ndarray of shape (n_features_in_,)``: reST would read ``n_features_in_``
    as a reference to an undefined target."""
    for i, line in enumerate(lines):
        match = _PARAMETER_LINE.match(line)
        if match:
            fixed = _TRAILING_UNDERSCORE.sub(r"``\1``", match.group(2))
            lines[i] = match.group(1) + fixed


def setup(app):
    app.setup_extension("sphinx.ext.autodoc")
    app.add_directive("calibkit-run", RunDirective)
    app.add_role("calc", calc_role)
    app.connect("autodoc-skip-member", skip_foreign_members)
    # Before numpydoc (priority 500) turns the sections into reST.
    app.connect("autodoc-process-docstring", escape_attribute_names_in_types, 400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


# --- numpydoc validation -------------------------------------------------------------

#: numpydoc checks not enforced, each for a reason:
#: ES01 (extended summary) - a one-line summary is enough for a method whose
#: class docstring explains the model; SA01 (See Also) - cross references only
#: where a real neighbour exists, not on every method; EX01 (Examples) -
#: examples live in the class and function docstrings users start from and in
#: the gallery, not repeated on ``fit``, ``to_dict`` and properties.
NUMPYDOC_SKIPPED_CHECKS = ("ES01", "SA01", "EX01")

#: Existing offenders, one ``name CODE`` per line; only ever shrinks.
NUMPYDOC_ALLOWLIST = Path(__file__).resolve().parents[1] / "numpydoc_allowlist.txt"


def documented_objects(package="calibkit"):
    """Dotted names of every public callable the API reference documents.

    The exported names of :func:`api_entries`, and for classes their public
    methods and properties defined in calibkit (scikit-learn's inherited
    ``get_params`` and ``set_*_request`` are documented by scikit-learn, see
    :func:`skip_foreign_members`) plus ``__call__``.
    """
    names = []
    for module_name, _, _, exported in api_entries(package):
        module = importlib.import_module(module_name)
        for name in exported:
            obj = getattr(module, name)
            if not callable(obj):
                continue
            names.append(f"{module_name}.{name}")
            if not isinstance(obj, type):
                continue
            for member in sorted(dir(obj)):
                if member.startswith("_") and member != "__call__":
                    continue
                value = inspect.getattr_static(obj, member)
                if member == "__call__" and member not in vars(obj):
                    continue
                kind = (property, classmethod, staticmethod)
                public = isinstance(value, kind) or callable(value)
                if public and _defined_in_calibkit(value):
                    names.append(f"{module_name}.{name}.{member}")
    return names


def read_numpydoc_allowlist(path=NUMPYDOC_ALLOWLIST):
    """``{(name, code)}`` from the allowlist file (``#`` starts a comment)."""
    entries = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, code = line.split()
            entries.add((name, code))
    return entries


def numpydoc_excluded_objects(path=NUMPYDOC_ALLOWLIST):
    """Regular expressions of the objects the Sphinx build does not validate.

    The allowlisted objects (the build can only skip whole objects;
    ``tests/test_docstrings.py`` checks the allowlist code by code) and the
    exported constants, which are documented by a ``#:`` comment rather than
    a numpydoc docstring.
    """
    names = {name for name, _ in read_numpydoc_allowlist(path)}
    for module_name, _, _, exported in api_entries():
        module = importlib.import_module(module_name)
        names.update(
            f"{module_name}.{name}"
            for name in exported
            if not callable(getattr(module, name))
        )
    return {rf"^{re.escape(name)}$" for name in names}
