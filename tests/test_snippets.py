"""Every code block of the README and the user guide runs as written.

The blocks are read from the files, so a new page or a new block is picked up
without touching this test:

- README.md: each ```` ```python ```` block runs on its own, in a fresh
  namespace; the ```` ```bash ```` blocks run in order in one scratch folder
  (their ``calibkit`` commands in the process, through the entry point's
  ``main``), so "run the demo, then calibrate its files" is tested as a reader
  follows it.
- the examples of ``calibkit --help`` and of each subcommand's ``--help``,
  which are also those of the command-line reference (docs/cli.rst): each
  subcommand's examples on their own, in a scratch folder holding the files
  they name (``scores.csv``, ``cal.json``, ...).
- docs/index.rst, docs/migration.rst and docs/user_guide/*.rst: the
  ``.. calibkit-run::`` and ``.. code-block:: python`` blocks of a page run
  top to bottom in one namespace, as the docs build runs them (also the
  values of ``:calc:`` roles, in their place); ``>>>`` blocks run as
  doctests; ``.. plot::`` blocks run on their own with the plot directive's
  imports; shell blocks as in the README.

Shell commands other than ``calibkit`` are not run; each must match
``NOT_RUN`` below, which says why (they install software or run this suite).
The docs build (``tests/test_docs.py``, ``-m docs``) runs the same Python
blocks again while rendering; this module is the fast check that runs with
``-m "not docs"``.
"""

import contextlib
import doctest
import io
import re
import shlex
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"

# The docs build's own runner of executed blocks (docs/_ext/calibkit_docs.py):
# one implementation, so that this test runs the code exactly as the build does.
sys.path.insert(0, str(DOCS / "_ext"))
from calibkit_docs import missing_modules  # noqa: E402
from calibkit_docs import run_code as run_python  # noqa: E402

#: Shell commands of the docs that the tests do not run, as (regular
#: expression matched at the start of a command, reason). Keep it short.
NOT_RUN = [
    (r"git clone ", "downloads the repository the tests run in"),
    (r"cd calibkit$", "enters the clone made by git clone"),
    (r"python3? -m venv ", "creates a virtual environment: CI does it (.ci/run)"),
    (r"\. \S+/bin/activate$", "activates that environment"),
    (r"(python3? -m )?pip install ", "installs calibkit: CI does it (.ci/run)"),
    (r"python3? -m pytest", "runs this test suite"),
    (r"ruff ", "lint: CI runs it (.ci/run)"),
    (r"bash \.ci/run$", "CI itself"),
    (r"python3? benchmarks/run\.py", "several minutes; tests/test_benchmarks.py"),
    (
        r"python3? benchmarks/out_of_core\.py",
        "1.6 GB on disk and about a minute; tests/test_isotonic.py runs the engine",
    ),
    (r"python3? -m sphinx ", "the docs build: tests/test_docs.py (-m docs)"),
]

SHELL_LANGUAGES = {"bash", "sh", "shell", "console"}
PYTHON_LANGUAGES = {"python", "python3", "py", "pycon"}
#: The plot directive's default ``plot_pre_code`` (conf.py does not set one).
PLOT_PRE_CODE = "import numpy as np\nfrom matplotlib import pyplot as plt\n"


# --- reading the blocks --------------------------------------------------------------


def markdown_blocks(text):
    """``(language, line, code)`` of every fenced block of a Markdown text."""
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        match = re.match(r"^(\s*)(```+|~~~+)\s*([\w+-]*)", lines[i])
        if not match:
            i += 1
            continue
        indent, fence, language = match.groups()
        start, i = i + 1, i + 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            i += 1
        body = [line[len(indent) :] for line in lines[start:i]]
        blocks.append((language.lower(), start + 1, "\n".join(body) + "\n"))
        i += 1
    return blocks


_DIRECTIVE = re.compile(r"^(\s*)\.\.\s+([\w-]+)::\s*(.*?)\s*$")
_OPTION = re.compile(r"^\s+:[\w-]+:")
_CALC = re.compile(r":calc:`([^`]+)`")


def rst_items(text):
    """The code of a reST page in reading order.

    Returns
    -------
    list of tuple
        ``(kind, line, code)``: ``kind`` is the directive (``calibkit-run``,
        ``plot``) or ``code-block:LANGUAGE``; ``"calc"`` items carry the
        expression of a ``:calc:`` role; ``"doctest"`` a literal block of
        ``>>>`` lines. ``line`` is the first line of the code (from 1).
    """
    lines = text.splitlines()
    items, i = [], 0
    while i < len(lines):
        line = lines[i]
        match = _DIRECTIVE.match(line)
        kind = None
        if match:
            name, argument = match.group(2), match.group(3)
            if name in ("code-block", "code", "sourcecode"):
                kind = f"code-block:{(argument or 'python').lower()}"
            elif name in ("calibkit-run", "plot", "doctest", "math"):
                kind = name
        else:
            items += [("calc", i + 1, expr) for expr in _CALC.findall(line)]
            if line.rstrip().endswith("::"):
                kind = "literal"
        if kind is None:  # prose, or a directive whose content is prose
            i += 1
            continue
        indent = len(line) - len(line.lstrip())
        j = i + 1
        while j < len(lines) and match and _OPTION.match(lines[j]):
            j += 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        start = j
        while j < len(lines) and (
            not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) > indent
        ):
            j += 1
        code = textwrap.dedent("\n".join(lines[start:j])).strip("\n") + "\n"
        if kind == "literal":
            kind = "doctest" if code.startswith(">>>") else None
        if kind not in (None, "math") and start < j:
            items.append((kind, start + 1, code))
        i = j
    return items


def shell_commands(code):
    """The commands of a shell block: prompts and comments removed, split at
    ``&&`` and ``;`` (a pipeline or redirection stays one command)."""
    text = re.sub(r"\\\n", " ", code)
    commands = []
    for line in text.splitlines():
        line = re.sub(r"^\s*\$\s+", "", line)
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|<>")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        current = []
        for word in [*lexer, "&&"]:
            if word in ("&&", ";"):
                if current:
                    commands.append(" ".join(current))
                current = []
            elif word in ("|", "<", ">", ">>", "||"):
                current.append(word)
            else:
                current.append(shlex.quote(word))
    return commands


def not_run_reason(command):
    """Why ``command`` is not run, or None if it must be."""
    for pattern, reason in NOT_RUN:
        if re.match(pattern, command):
            return reason
    return None


# --- running them --------------------------------------------------------------------


def run_doctest(code, namespace, where):
    """Run ``>>>`` examples against their printed output; fail on a mismatch."""
    parser = doctest.DocTestParser()
    test = parser.get_doctest(code, namespace, where, where, 0)
    flags = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    runner = doctest.DocTestRunner(optionflags=flags)
    out = io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = runner.run(test, out=out.write, clear_globs=False)
    assert result.failed == 0, out.getvalue()


def run_calibkit(command):
    """Run one ``calibkit`` command line in this process; its exit status and output.

    ``calibkit.cli.main`` is what the installed command calls. A pipeline from
    ``cat FILE |`` and the redirections ``< FILE`` and ``> FILE`` are done here,
    with real files as standard input and output.
    """
    from calibkit.cli import main

    lexer = shlex.shlex(command, posix=True, punctuation_chars="|<>")
    lexer.whitespace_split = True
    words = list(lexer)
    stdin_path = stdout_path = None
    if "|" in words:
        cut = words.index("|")
        head, words = words[:cut], words[cut + 1 :]
        assert head[0] == "cat", f"pipeline not handled: {command}"
        assert len(head) == 2, f"pipeline not handled: {command}"
        stdin_path = head[1]
    args, rest = [], iter(words)
    for word in rest:
        if word == "<":
            stdin_path = next(rest)
        elif word == ">":
            stdout_path = next(rest)
        else:
            args.append(word)
    assert args[0] == "calibkit", command
    shown = io.StringIO()
    with contextlib.ExitStack() as stack:
        stack.enter_context(contextlib.redirect_stderr(shown))
        if stdout_path is None:
            stack.enter_context(contextlib.redirect_stdout(shown))
        else:
            stream = stack.enter_context(open(stdout_path, "w", encoding="utf-8"))
            stack.enter_context(contextlib.redirect_stdout(stream))
        if stdin_path is not None:
            stdin = stack.enter_context(open(stdin_path, encoding="utf-8"))
            saved, sys.stdin = sys.stdin, stdin
            stack.callback(setattr, sys, "stdin", saved)
        status = main(args[1:])
    if stdout_path is not None and status == 0:
        assert Path(stdout_path).stat().st_size > 0, f"nothing written: {command}"
    return status, shown.getvalue()


def run_shell(code, where):
    """Run the ``calibkit`` commands of a shell block in the current folder."""
    for command in shell_commands(code):
        if not re.search(r"(^|\|\s*)calibkit ", command):
            assert not_run_reason(command), (
                f"{where}: {command!r} is neither a calibkit command nor listed "
                "in NOT_RUN with a reason"
            )
            continue
        status, output = run_calibkit(command)
        assert status == 0, f"{where}: {command}\n{output}"


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """A scratch folder as the working directory; ``plt.show()`` does nothing
    (as in the docs build), and figures are closed afterwards."""
    monkeypatch.chdir(tmp_path)
    plt = pytest.importorskip("matplotlib.pyplot")
    monkeypatch.setattr(plt, "show", lambda *args, **kwargs: None)
    yield tmp_path
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


# --- the README ----------------------------------------------------------------------

_README_BLOCKS = markdown_blocks(README.read_text(encoding="utf-8"))
_README_PYTHON = [
    (line, code) for lang, line, code in _README_BLOCKS if lang == "python"
]


def test_readme_has_the_blocks_this_module_runs():
    languages = {lang for lang, _, _ in _README_BLOCKS}
    assert len(_README_PYTHON) >= 2
    assert languages <= PYTHON_LANGUAGES | SHELL_LANGUAGES, languages


@pytest.mark.parametrize(
    "code",
    [code for _, code in _README_PYTHON],
    ids=[f"README.md:{line}" for line, _ in _README_PYTHON],
)
def test_readme_python_block_runs(code, scratch):
    run_python(code, {"__name__": "__main__"}, "<README.md>")
    # Nothing is left in the folder the reader runs it from.
    assert list(scratch.iterdir()) == []


def test_readme_shell_blocks_run_in_order(scratch):
    for lang, line, code in _README_BLOCKS:
        if lang in SHELL_LANGUAGES:
            run_shell(code, f"README.md:{line}")
    # What the README's commands write stays in the demo's folder.
    assert sorted(p.name for p in scratch.iterdir()) == ["calibkit-demo"]


# --- the documentation pages ---------------------------------------------------------

PAGES = sorted(
    [
        DOCS / "index.rst",
        DOCS / "migration.rst",
        DOCS / "cli.rst",
        *(DOCS / "user_guide").glob("*.rst"),
    ]
)


def run_page(items, where):
    """Run the items of one page in order, in one namespace as the build does."""
    namespace = {"__name__": "__calibkit_docs__"}
    for kind, line, code in items:
        at = f"<{where}, line {line}>"
        if kind == "calibkit-run" or (
            kind.startswith("code-block:")
            and kind.split(":", 1)[1] in PYTHON_LANGUAGES
            and ">>>" not in code
        ):
            run_python(code, namespace, at)
        elif kind == "doctest" or kind.startswith("code-block:"):
            lang = kind.split(":", 1)[-1]
            if kind == "doctest" or lang in PYTHON_LANGUAGES:
                run_doctest(code, namespace, at)
            elif lang in SHELL_LANGUAGES:
                run_shell(code, at)
        elif kind == "calc":
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                eval(code, namespace)
        elif kind == "plot":
            run_python(PLOT_PRE_CODE + code, {"__name__": "__main__"}, at)


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(DOCS)) for p in PAGES])
def test_page_code_runs(page, scratch):
    text = page.read_text(encoding="utf-8")
    # A page whose blocks say ``:requires: torch`` runs where torch is installed
    # (CI installs it); the docs build shows those blocks unrun without it.
    for requires in re.findall(r"^\s+:requires:\s*(.+)$", text, flags=re.M):
        for module in missing_modules(requires):
            pytest.skip(f"{page.name} needs {module}, which is not installed")
    items = rst_items(text)
    run_page(items, str(page.relative_to(ROOT)))


def test_every_executed_block_of_the_pages_is_found():
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        kinds = [kind for kind, _, _ in rst_items(text)]
        for directive in ("calibkit-run", "plot"):
            expected = len(re.findall(rf"^\s*\.\. {directive}::", text, re.MULTILINE))
            assert kinds.count(directive) == expected, (page.name, directive)
        assert kinds.count("calc") == len(_CALC.findall(text)), page.name


# --- the examples of the command-line reference --------------------------------------


def cli_examples():
    """``{prog: [example, ...]}`` from the epilogs of the ``calibkit`` parsers.

    These are the examples of ``calibkit --help``, ``calibkit SUBCOMMAND
    --help`` and the command-line reference (``docs/cli.rst``).
    """
    import argparse

    from calibkit.cli import build_parser

    parser = build_parser()
    parsers = {"calibkit": parser}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            parsers.update({f"calibkit {n}": p for n, p in action.choices.items()})
    examples = {}
    for prog, sub in parsers.items():
        epilog = (sub.epilog or "").split("examples:\n", 1)[-1].split("\n\n")[0]
        examples[prog] = [line.strip() for line in epilog.splitlines() if line.strip()]
    return examples


#: Examples of the command-line reference that are not run, with the reason.
CLI_NOT_RUN = {
    "calibkit demo": "the README test runs it",
    "calibkit demo --out /tmp/demo": "writes outside the scratch folder",
    "calibkit demo --out calibkit-demo": "the README test runs calibkit demo",
}


@pytest.fixture(scope="module")
def cli_inputs(tmp_path_factory):
    """The files that the examples of the command-line reference name.

    A three-class problem (labels ``a``, ``b``, ``c``) with logit columns
    ``logit_a`` ... for the files fitted and applied, a binary one for
    ``scores.csv`` and ``preds.parquet``; ``cal.json`` is fitted on
    ``val.parquet`` and ``calibrated.csv`` is ``test.csv`` calibrated by it.
    """
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    import numpy as np

    from calibkit.cli import main

    folder = tmp_path_factory.mktemp("cli-inputs")
    rng = np.random.default_rng(15)
    n = 300
    score = rng.normal(0.0, 2.0, n)
    binary = (rng.uniform(size=n) < 1 / (1 + np.exp(-score))).astype(int)
    pd.DataFrame({"score": score, "y": binary}).to_csv(
        folder / "scores.csv", index=False
    )
    pd.DataFrame({"p": 1 / (1 + np.exp(-0.5 * score)), "y": binary}).to_parquet(
        folder / "preds.parquet"
    )
    logits = rng.normal(0.0, 2.0, (n, 3))
    prob = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    drawn = (prob.cumsum(axis=1) < rng.uniform(size=(n, 1))).sum(axis=1)
    frame = pd.DataFrame(2 * logits, columns=["logit_a", "logit_b", "logit_c"])
    frame["y"] = np.array(["a", "b", "c"])[drawn]
    frame.to_csv(folder / "test.csv", index=False)
    frame.to_csv(folder / "cal.csv", index=False)
    frame.to_parquet(folder / "test.parquet")
    frame.rename(columns={"y": "label"}).to_parquet(folder / "val.parquet")
    np.savez(
        folder / "probs.npz",
        y=drawn,
        **{f"proba_{k}": prob[:, k] for k in range(3)},
    )
    with contextlib.chdir(folder), contextlib.redirect_stdout(io.StringIO()):
        assert main(["fit", "val.parquet", "--label", "label", "-o", "cal.json"]) == 0
        assert main(["apply", "cal.json", "test.csv", "-o", "calibrated.csv"]) == 0
    return folder


def test_cli_reference_examples_run(cli_inputs, tmp_path, monkeypatch):
    import shutil

    examples = cli_examples()
    assert len(examples) >= 5
    for prog, lines in examples.items():
        assert lines, f"{prog} --help has no examples"
        # Each subcommand's examples stand alone; the main ones are a session.
        runs = [lines] if prog == "calibkit" else [[line] for line in lines]
        for i, run in enumerate(runs):
            folder = tmp_path / f"{prog.replace(' ', '-')}-{i}"
            shutil.copytree(cli_inputs, folder)
            monkeypatch.chdir(folder)
            for line in run:
                if line not in CLI_NOT_RUN:
                    run_shell(line + "\n", f"{prog} --help")


# --- the readers of this module ------------------------------------------------------


def test_markdown_blocks():
    text = (
        "text\n```python\nx = 1\n\n```\n```bash\n$ calibkit demo\n```\n~~~\nraw\n~~~\n"
    )
    assert markdown_blocks(text) == [
        ("python", 3, "x = 1\n\n"),
        ("bash", 7, "$ calibkit demo\n"),
        ("", 10, "raw\n"),
    ]


def test_rst_items_in_reading_order():
    text = textwrap.dedent(
        """\
        Title
        =====

        .. calibkit-run::
           :hide-output:

           x = 1
           if x:
               y = 2

        The value is :calc:`x + y`.

        .. math::

           a = b

        .. code-block:: bash

           pip install -e .

        .. note::

           Notes are prose: :calc:`len('ab')` is found.

        Example::

           >>> 1 + 1
           2

        Plain literal::

           not code

        .. plot::
           :include-source:

           plt.plot([1, 2])
        after
        """
    )
    assert rst_items(text) == [
        ("calibkit-run", 7, "x = 1\nif x:\n    y = 2\n"),
        ("calc", 11, "x + y"),
        ("code-block:bash", 19, "pip install -e .\n"),
        ("calc", 23, "len('ab')"),
        ("doctest", 27, ">>> 1 + 1\n2\n"),
        ("plot", 37, "plt.plot([1, 2])\n"),
    ]


def test_shell_commands_split_and_not_run_reasons():
    code = (
        "python3 -m venv .venv && . .venv/bin/activate \\\n"
        '  && pip install -e ".[test]"   # the tests\n'
        "$ calibkit fit a.csv --label y -o cal.json; calibkit demo\n"
        "calibkit apply cal.json - -o - < test.csv > 'out put.csv'  # a pipe\n"
    )
    assert shell_commands(code) == [
        "python3 -m venv .venv",
        ". .venv/bin/activate",
        "pip install -e '.[test]'",
        "calibkit fit a.csv --label y -o cal.json",
        "calibkit demo",
        "calibkit apply cal.json - -o - < test.csv > 'out put.csv'",
    ]
    assert not_run_reason("pip install -e '.[test]'")
    assert not_run_reason("python -m pytest")
    assert not_run_reason("rm -rf build") is None
    with pytest.raises(AssertionError, match="neither a calibkit command"):
        run_shell("rm -rf build\n", "<test>")
