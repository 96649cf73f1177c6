"""The ``calibkit`` command: calibrate saved predictions without writing Python.

Subcommands (``calibkit SUBCOMMAND --help`` shows examples for each):

- ``demo``: calibrate a scikit-learn model's held-out scores with every method,
  print the scores and write reliability diagrams and an HTML report;
- ``fit``: fit a calibrator on a file of predictions and labels, save it as JSON;
- ``apply``: add calibrated probability columns to a file of predictions;
- ``evaluate``: score predictions (optionally before and after a calibrator),
  print a table, write JSON and an HTML report.

Errors print one line on stderr and exit with status 2. This module only parses
arguments, reads and writes files and calls calibkit's public functions.
"""

import argparse
import contextlib
import os
import re
import signal
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np

from calibkit import io as ckio
from calibkit._validation import format_label
from calibkit._version import __version__
from calibkit.calibrators._selection import METHODS

__all__ = ["main"]

PROG = "calibkit"

#: Methods of ``fit --method``, in the order ``auto`` tries them.
METHOD_NAMES = tuple(METHODS)

#: Inputs at least this large (bytes read, or rows written) get a progress bar,
#: when stderr is a terminal and ``--quiet`` is not given.
PROGRESS_MIN_BYTES = 32 * 2**20
PROGRESS_MIN_ROWS = 1_000_000

_EXIT_ERROR = 2
_EXIT_INTERRUPTED = 130
#: A closed pipe on standard output (``calibkit apply ... -o - | head``): exit
#: quietly with the status a process killed by SIGPIPE reports (128 + 13), as
#: ``yes | head`` does, so that ``set -o pipefail`` still sees it.
_EXIT_BROKEN_PIPE = 141
_EXIT_TERMINATED = 143

#: Largest --n-bins (ECE bins).
MAX_N_BINS = 10_000

#: Python argument names in library messages, and how the command line says
#: them (the one place where the two vocabularies meet).
_OPTION_NAMES = [
    (r"input='(logits|probabilities)'", r"--input \1"),
    (r"(?<![\w'\"-])sample_weight(?![\w'\"])", "the --weight column"),
    (r"(?<![\w'\"-])n_bins(?![\w'\"])", "--n-bins"),
    (r"(?<![\w'\"-])(y_prob|X)(?![\w'\"])", "the score table"),
    (r"(?<![\w'\"-])(y_true|y)(?![\w'\"])", "the label column"),
]


def cli_spelling(text):
    """A library message with Python argument names replaced by the options."""
    for pattern, replacement in _OPTION_NAMES:
        text = re.sub(pattern, replacement, text)
    return text


class _Terminated(BaseException):
    """SIGTERM, raised so that temporary files are removed on the way out."""


_OUTPUT_PREFIX = "calibrated_"


def main(argv=None):
    """Run the ``calibkit`` command.

    Parameters
    ----------
    argv : list of str or None, default=None
        Arguments without the program name; ``None`` reads ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit status: 0 on success, 2 for bad input or usage (one line on
        stderr, no traceback), 130 when interrupted.

    Examples
    --------
    >>> from calibkit.cli import main
    >>> main(["--version"])  # doctest: +ELLIPSIS
    calibkit ...
    0
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error
        return exc.code if isinstance(exc.code, int) else _EXIT_ERROR
    if args.command is None:
        parser.print_usage(sys.stderr)
        print(
            f"{PROG}: error: choose a subcommand: demo, fit, apply or evaluate.",
            file=sys.stderr,
        )
        return _EXIT_ERROR
    console = _Console(args.command, quiet=args.quiet)
    with warnings.catch_warnings(record=True) as caught, _terminate_cleanly():
        warnings.simplefilter("always")
        try:
            return args.run(args, console)
        except BrokenPipeError:
            _silence_stdout()
            return _EXIT_BROKEN_PIPE
        except (
            ValueError,
            TypeError,
            OSError,
            ImportError,
            OverflowError,
            RecursionError,
            MemoryError,
        ) as exc:
            console.error(exc)
            return _EXIT_ERROR
        except KeyboardInterrupt:
            console.error("interrupted.")
            return _EXIT_INTERRUPTED
        except _Terminated:
            console.error("terminated.")
            return _EXIT_TERMINATED
        finally:
            console.warnings(caught)


@contextlib.contextmanager
def _terminate_cleanly():
    """Turn SIGTERM into an exception while the command runs (main thread)."""

    def handler(signum, frame):
        raise _Terminated

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _silence_stdout():
    """After a broken pipe, point stdout at /dev/null so the exit flush is quiet."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


# --- argument parsing -----------------------------------------------------------------


def build_parser():
    """The argparse parser of the ``calibkit`` command.

    Returns
    -------
    argparse.ArgumentParser
    """
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Calibrate saved predictions: fit Platt, temperature or isotonic "
            "calibrators on scores and labels, apply them to new scores, and "
            "evaluate calibration (log-loss, Brier, ECE, decomposition, reliability "
            "diagrams). Files: CSV, Parquet, .npy, .npz ('-' is CSV on stdin/stdout)."
        ),
        epilog=(
            "examples:\n"
            "  calibkit demo --out calibkit-demo\n"
            "  calibkit fit cal.csv --label y --prefix logit_ -o calibrator.json\n"
            "  calibkit apply calibrator.json test.csv -o calibrated.csv\n"
            "  calibkit evaluate calibrated.csv --label y --prefix calibrated_ "
            "--report report.html\n\n"
            "Run 'calibkit SUBCOMMAND --help' for the options and examples of each."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.set_defaults(command=None, quiet=False)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bar and no informational messages (errors and "
        "warnings are still shown)",
    )
    sub = parser.add_subparsers(title="subcommands", metavar="SUBCOMMAND")
    for add in (_add_demo, _add_fit, _add_apply, _add_evaluate):
        add(sub, common)
    return parser


def _subparser(sub, common, name, *, help, description, examples):
    return sub.add_parser(
        name,
        parents=[common],
        help=help,
        description=description,
        epilog="examples:\n" + "\n".join(f"  {line}" for line in examples),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _add_column_options(parser, *, default):
    group = parser.add_argument_group("prediction columns")
    group.add_argument(
        "--columns",
        action="append",
        metavar="A,B,...",
        help="comma-separated score columns: one column holds the score of the "
        "greater label (binary), K columns one score per class. Columns named "
        "<prefix><label> are matched to the labels by name; others are taken in "
        "the sorted order of the labels. May be repeated.",
    )
    group.add_argument(
        "--prefix",
        metavar="PREFIX",
        help="take every column whose name starts with PREFIX; the rest of each "
        "name is its label (logit_cat is the column of label cat), in any order",
    )
    group.description = f"Default: {default}"


def _add_demo(sub, common):
    parser = _subparser(
        sub,
        common,
        "demo",
        help="calibrate a bundled example end to end and write a report",
        description=(
            "Train a linear SVM on scikit-learn's bundled handwritten digits, read "
            "its decision scores on held-out rows as logits, calibrate them with "
            "Platt scaling, temperature scaling and isotonic calibration, print "
            "log-loss, Brier score, ECE and the log-loss decomposition before and "
            "after, and write reliability diagrams (PNG), an HTML report and the "
            "scores (CSV, to try the other subcommands on) to DIR. Takes a few "
            "seconds; the figures need matplotlib (pip install 'calibkit[plot]')."
        ),
        examples=["calibkit demo", "calibkit demo --out /tmp/demo"],
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        default="calibkit-demo",
        help="output directory, created if needed (default: ./calibkit-demo)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="overwrite existing files in DIR (without it, the demo replaces only "
        "the files an earlier demo wrote there and nobody changed since)",
    )
    parser.set_defaults(command="demo", run=_run_demo)


def _add_fit(sub, common):
    parser = _subparser(
        sub,
        common,
        "fit",
        help="fit a calibrator on saved predictions and labels",
        description=(
            "Fit a calibrator on PREDICTIONS (scores and the true labels) and "
            "save it as JSON (calibkit.load reads it in Python). The prediction "
            "columns are recorded in the file, so 'calibkit apply' finds them."
        ),
        examples=[
            "calibkit fit scores.csv --label y --columns score -o cal.json",
            "calibkit fit val.parquet --label label --prefix logit_ "
            "--method temperature -o cal.json",
            "calibkit fit probs.npz --label y --prefix proba_ --input probabilities "
            "--method auto -o cal.json",
            "cat scores.csv | calibkit fit - --label y -o cal.json",
        ],
    )
    parser.add_argument("predictions", metavar="PREDICTIONS", help="input file, or -")
    parser.add_argument("--label", required=True, metavar="COL", help="label column")
    _add_column_options(parser, default="every column except --label and --weight.")
    parser.add_argument(
        "--input",
        choices=("logits", "probabilities"),
        default="logits",
        help="what the columns hold: logits / log-odds / decision scores "
        "(default), or probabilities",
    )
    parser.add_argument(
        "--method",
        choices=(*METHOD_NAMES, "auto"),
        default="temperature",
        help="calibrator (default: temperature); 'auto' keeps the method with "
        "the lowest 5-fold cross-validated log-loss",
    )
    parser.add_argument("--weight", metavar="COL", help="column of sample weights")
    parser.add_argument(
        "-o", "--output", required=True, metavar="FILE.json", help="calibrator file"
    )
    parser.set_defaults(command="fit", run=_run_fit)


def _add_apply(sub, common):
    parser = _subparser(
        sub,
        common,
        "apply",
        help="add calibrated probabilities to a file of predictions",
        description=(
            "Read PREDICTIONS, calibrate their scores with CALIBRATOR, and write "
            "OUT: all input columns followed by one probability column per class, "
            "named <output-prefix><label> in the order of the calibrator's classes "
            "(by default calibrated_0, calibrated_1, ... for labels 0, 1, ...). OUT "
            "is written to a temporary file and renamed, so a failure never "
            "leaves a partial file."
        ),
        examples=[
            "calibkit apply cal.json test.csv -o test_calibrated.csv",
            "calibkit apply cal.json test.parquet --prefix logit_ -o out.parquet",
            "calibkit apply cal.json - -o - < test.csv > calibrated.csv",
        ],
    )
    parser.add_argument("calibrator", metavar="CALIBRATOR", help="JSON from 'fit'")
    parser.add_argument("predictions", metavar="PREDICTIONS", help="input file, or -")
    _add_column_options(parser, default="the columns the calibrator was fitted on.")
    parser.add_argument(
        "-o", "--output", required=True, metavar="OUT", help="output file, or -"
    )
    parser.add_argument(
        "--output-prefix",
        default=_OUTPUT_PREFIX,
        metavar="PREFIX",
        help=f"prefix of the probability columns (default: {_OUTPUT_PREFIX})",
    )
    parser.set_defaults(command="apply", run=_run_apply)


def _add_evaluate(sub, common):
    parser = _subparser(
        sub,
        common,
        "evaluate",
        help="score predictions: metrics table, JSON and HTML report",
        description=(
            "Print log-loss, Brier score, expected calibration error and the CORP "
            "decomposition of the log-loss (MCB - DSC + UNC) of PREDICTIONS. With "
            "--calibrator, score the predictions before and after calibration. "
            "K probability columns are matched to the labels by their names "
            "<prefix><label> when they have them (as 'apply' writes), else taken "
            "in the sorted order of the labels."
        ),
        examples=[
            "calibkit evaluate calibrated.csv --label y --prefix calibrated_",
            "calibkit evaluate test.csv --label y --prefix logit_ --calibrator "
            "cal.json --report report.html",
            "calibkit evaluate preds.parquet --label y --columns p --json metrics.json",
        ],
    )
    parser.add_argument("predictions", metavar="PREDICTIONS", help="input file, or -")
    parser.add_argument("--label", required=True, metavar="COL", help="label column")
    _add_column_options(
        parser,
        default="the calibrator's columns with --calibrator, else every column "
        "except --label and --weight.",
    )
    parser.add_argument(
        "--input",
        choices=("logits", "probabilities"),
        help="what the columns hold (default: probabilities, or what the "
        "calibrator takes with --calibrator)",
    )
    parser.add_argument(
        "--calibrator",
        metavar="FILE.json",
        help="also score the calibrated predictions",
    )
    parser.add_argument("--weight", metavar="COL", help="column of sample weights")
    parser.add_argument(
        "--n-bins",
        default="15",
        metavar="N",
        help=f"ECE bins, 1 to {MAX_N_BINS} (default: 15)",
    )
    parser.add_argument("--report", metavar="FILE.html", help="write an HTML report")
    parser.add_argument("--json", metavar="FILE.json", help="write the scores as JSON")
    parser.set_defaults(command="evaluate", run=_run_evaluate)


def _check_n_bins(text):
    """--n-bins, checked here rather than by argparse so the error is one line."""
    value = None
    with contextlib.suppress(ValueError):
        value = int(text)
    if value is None or not 1 <= value <= MAX_N_BINS:
        shown = text if len(text) <= 30 else text[:30] + "..."
        msg = f"--n-bins must be a whole number from 1 to {MAX_N_BINS}; got {shown}."
        raise ValueError(msg)
    return value


# --- console --------------------------------------------------------------------------


class _Console:
    """Messages on stderr: errors and warnings always, the rest unless quiet."""

    def __init__(self, command, *, quiet):
        self.command = command
        self.quiet = quiet

    def info(self, message):
        if not self.quiet:
            print(message, file=sys.stderr)

    def error(self, exc):
        text = " ".join(str(exc).split()) or type(exc).__name__
        if isinstance(exc, MemoryError):
            text = f"not enough memory ({text})."
        elif isinstance(exc, RecursionError):
            text = "input nested too deeply."
        text = cli_spelling(text)
        print(f"{PROG} {self.command}: error: {text}", file=sys.stderr)

    def warnings(self, caught):
        seen = set()
        # Users get the warnings about their results (UserWarning and its
        # subclasses, calibkit's included), not libraries' deprecation notes.
        for record in (r for r in caught if issubclass(r.category, UserWarning)):
            # Library messages name Python arguments; say the options instead.
            text = cli_spelling(" ".join(str(record.message).split()))
            if text not in seen:
                seen.add(text)
                print(f"{PROG} {self.command}: warning: {text}", file=sys.stderr)

    def shows_progress(self, size, threshold):
        """Whether a job of ``size`` gets progress messages."""
        return not self.quiet and size >= threshold and _stderr_is_terminal()

    def progress(self, label, size, threshold):
        """A progress callback for a job of ``size``, or None for small jobs."""
        return _ProgressBar(label) if self.shows_progress(size, threshold) else None


def _stderr_is_terminal():
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


class _ProgressBar:
    """``label [#####.....]  50%`` redrawn in place on stderr."""

    width = 30

    def __init__(self, label):
        self.label = label
        self.shown = -1

    def __call__(self, fraction):
        percent = int(100 * min(max(fraction, 0.0), 1.0))
        if percent == self.shown:
            return
        self.shown = percent
        filled = self.width * percent // 100
        bar = "#" * filled + "." * (self.width - filled)
        sys.stderr.write(f"\r{self.label} [{bar}] {percent:3d}%")
        if percent == 100:
            sys.stderr.write("\n")
        sys.stderr.flush()


# --- shared steps ---------------------------------------------------------------------


def _read(path, console, *, label=None):
    size = 0 if str(path) == "-" else _file_size(path)
    progress = console.progress(f"reading {path}", size, PROGRESS_MIN_BYTES)
    text = [label] if label is not None else []
    return ckio.read_table(path, progress=progress, text_columns=text)


def _prediction_columns(frame, args, *, exclude, classes=None, y=None, stored=None):
    """The prediction columns, matched to the classes (ckio.match_columns).

    Returns ``(classes, columns)`` with one column per class in the order of
    ``classes`` (or the single column of a binary problem).
    """
    explicit = _column_list(args.columns)
    if explicit is None and args.prefix is None and stored is not None:
        # The calibrator's own columns, saved in the order of its classes.
        columns = ckio.select_columns(frame, columns=stored, exclude=exclude)
        return np.asarray(classes), columns
    columns = ckio.select_columns(
        frame, columns=explicit, prefix=args.prefix, exclude=exclude
    )
    return ckio.match_columns(
        columns,
        classes=classes,
        y=y,
        prefix=args.prefix,
        explicit=explicit is not None,
        positional_names=bool(frame.attrs.get("positional_names")),
    )


def _check_paths(args, inputs, outputs):
    ckio.check_distinct_paths(
        {k: getattr(args, v) for k, v in inputs.items()},
        {k: getattr(args, v) for k, v in outputs.items()},
    )


def _file_size(path):
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _write(frame, path, console):
    progress = None
    if ckio.detect_format(path) == "csv" and str(path) != "-":
        progress = console.progress(
            f"writing {path}", frame.shape[0], PROGRESS_MIN_ROWS
        )
    ckio.write_table(frame, path, progress=progress)


def _column_list(values):
    if not values:
        return None
    names = [name.strip() for value in values for name in value.split(",")]
    empty = [n for n in names if not n]
    if empty:
        msg = f"--columns has an empty column name in {','.join(values)!r}."
        raise ValueError(msg)
    return names


def _check_output_path(path, *, name, stdout=False):
    if path is None:
        return
    if str(path) == "-":
        if stdout:
            return
        msg = f"{name} cannot be standard output ('-'); give a file name."
        raise ValueError(msg)
    parent = Path(path).parent
    if not parent.is_dir():
        msg = f"{name}: directory '{parent}' does not exist."
        raise FileNotFoundError(msg)


# --- fit ------------------------------------------------------------------------------


def _run_fit(args, console):
    from calibkit._persistence import save

    _check_output_path(args.output, name="--output")
    if Path(args.output).suffix.lower() != ".json":
        msg = f"--output must be a .json file; got '{args.output}'."
        raise ValueError(msg)
    _check_paths(args, {"PREDICTIONS": "predictions"}, {"--output": "output"})
    frame = _read(args.predictions, console, label=args.label)
    y = ckio.label_array(frame, args.label)
    not_scores = [args.label, args.weight]
    classes, columns = _prediction_columns(frame, args, exclude=not_scores, y=y)
    X = ckio.score_array(frame, columns)
    weight = ckio.score_array(frame, [args.weight]) if args.weight else None
    method = args.method
    if method == "auto":
        losses = _cross_validated_losses(X, y, weight, args.input)
        method = min(losses, key=losses.get)
        listed = ", ".join(f"{name} {loss:.4f}" for name, loss in losses.items())
        console.info(f"cross-validated log-loss (nats): {listed}; using {method}")
    calibrator = METHODS[method](input=args.input)
    # The columns may name classes missing from the labels (a rare class).
    calibrator.fit(X, y, sample_weight=weight, classes=classes)
    metadata = {
        "columns": columns,
        "label": args.label,
        "method": method,
        "source": str(args.predictions),
        "n_rows": int(frame.shape[0]),
    }
    save(calibrator, args.output, metadata=metadata)
    classes = ", ".join(format_label(c) for c in calibrator.classes_)
    console.info(
        f"fitted {type(calibrator).__name__} on {frame.shape[0]} rows, "
        f"{len(columns)} column(s), classes [{classes}]: "
        f"{_fitted_summary(calibrator)}; saved {args.output}"
    )
    return 0


def _fitted_summary(calibrator):
    """The fitted parameters in a clause, including the state that
    ``--input probabilities`` adds (what exact 0 and 1 map to, the floor)."""
    if hasattr(calibrator, "temperature_"):
        text = f"temperature {calibrator.temperature_:.6g}"
        zero_logit = getattr(calibrator, "zero_logit_", None)
        if zero_logit is not None:
            text += f", logit of exact zeros {zero_logit:.4g}"
        floor = getattr(calibrator, "log_floor_", None)
        if floor is not None:
            text += f", log-probabilities floored at {floor:g}"
        return text
    if hasattr(calibrator, "coef_"):
        pairs = zip(calibrator.coef_, calibrator.intercept_, strict=True)
        text = "slope, intercept " + "; ".join(f"{a:.4g}, {b:.4g}" for a, b in pairs)
        for name, label in (("zero_proba_", "0"), ("one_proba_", "1")):
            values = getattr(calibrator, name, None)
            if values is not None:
                text += f"; probability for an input of exactly {label}: "
                text += _short_list(values)
        return text
    sizes = ", ".join(str(len(x)) for x in calibrator.X_thresholds_)
    return f"isotonic map with {sizes} knots"


def _short_list(values, limit=5):
    shown = ", ".join(f"{v:.4g}" for v in values[:limit])
    return shown + (f", ... ({len(values)} in all)" if len(values) > limit else "")


def _cross_validated_losses(X, y, weight, kind, *, n_splits=5):
    """Mean held-out log-loss of each method over stratified folds."""
    from sklearn.model_selection import StratifiedKFold

    from calibkit._validation import encode_labels
    from calibkit.calibrators._selection import CalibrationSet

    classes, codes = encode_labels(y, name="labels")
    counts = np.bincount(codes)
    n_splits = min(n_splits, int(counts.min()))
    if n_splits < 2:
        msg = (
            f"--method auto needs at least 2 rows of every class for "
            f"cross-validation; class {format_label(classes[np.argmin(counts)])} "
            "has 1. Choose a --method."
        )
        raise ValueError(msg)
    folds = list(
        StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=0).split(X, y)
    )
    rows = CalibrationSet(inputs=X, codes=codes, sample_weight=weight)
    return {
        name: rows.cross_validated_log_loss(cls(input=kind), folds)
        for name, cls in METHODS.items()
    }


# --- apply ----------------------------------------------------------------------------


def _run_apply(args, console):
    import pandas as pd

    from calibkit._persistence import load_with_metadata

    _check_output_path(args.output, name="--output", stdout=True)
    ckio.detect_format(args.output)
    _check_paths(
        args,
        {"CALIBRATOR": "calibrator", "PREDICTIONS": "predictions"},
        {"--output": "output"},
    )
    calibrator, metadata = load_with_metadata(args.calibrator)
    stored = _stored_columns(calibrator, metadata, args)
    frame = _read(args.predictions, console)
    _, columns = _prediction_columns(
        frame, args, exclude=(), classes=calibrator.classes_, stored=stored
    )
    _check_n_columns(columns, calibrator)
    X = ckio.score_array(frame, columns)
    if console.shows_progress(frame.shape[0], PROGRESS_MIN_ROWS):
        console.info(f"calibrating {frame.shape[0]} rows ...")
    proba = calibrator.predict_proba(X)
    names = [f"{args.output_prefix}{format_label(c)}" for c in calibrator.classes_]
    clash = [n for n in names if n in frame.columns]
    if clash:
        msg = (
            f"{_source(args.predictions)} already has column(s) {clash}; choose "
            "another --output-prefix."
        )
        raise ValueError(msg)
    calibrated = pd.DataFrame(proba, columns=names, index=frame.index)
    _write(pd.concat([frame, calibrated], axis=1), args.output, console)
    if str(args.output) != "-":
        console.info(
            f"wrote {args.output}: {frame.shape[0]} rows, columns "
            f"{names[0]} ... {names[-1]}"
        )
    return 0


def _stored_columns(calibrator, metadata, args):
    """The columns a calibrator was fitted on: its feature names, else the
    columns 'calibkit fit' recorded; None when the user selects columns."""
    if _column_list(args.columns) is not None or args.prefix is not None:
        return None
    names = getattr(calibrator, "feature_names_in_", None)
    if names is not None:
        return [str(n) for n in names]
    stored = metadata.get("columns")
    if stored is None:
        msg = (
            f"'{args.calibrator}' does not record its prediction columns (it was "
            "not saved by 'calibkit fit'); pass --columns or --prefix."
        )
        raise ValueError(msg)
    if not isinstance(stored, list) or not all(isinstance(c, str) for c in stored):
        msg = f"'{args.calibrator}': metadata 'columns' must be a list of column names."
        raise ValueError(msg)
    return stored


def _check_n_columns(columns, calibrator):
    expected = calibrator.n_features_in_
    if len(columns) != expected:
        msg = (
            f"the calibrator takes {expected} prediction column(s) but "
            f"{len(columns)} were selected ({', '.join(columns[:6])}"
            f"{' ...' if len(columns) > 6 else ''})."
        )
        raise ValueError(msg)


def _source(path):
    return "standard input" if str(path) == "-" else f"'{path}'"


# --- evaluate -------------------------------------------------------------------------


def _run_evaluate(args, console):
    from calibkit.report._report import (
        evaluate_forecasts,
        format_table,
        render_html,
        to_json,
    )

    args.n_bins = _check_n_bins(args.n_bins)
    for option, path in (("--report", args.report), ("--json", args.json)):
        _check_output_path(path, name=option)
    _check_paths(
        args,
        {"PREDICTIONS": "predictions", "--calibrator": "calibrator"},
        {"--json": "json", "--report": "report"},
    )
    calibrator, stored = None, None
    if args.calibrator is not None:
        from calibkit._persistence import load_with_metadata

        calibrator, metadata = load_with_metadata(args.calibrator)
        stored = _stored_columns(calibrator, metadata, args)
    frame = _read(args.predictions, console, label=args.label)
    y = ckio.label_array(frame, args.label)
    not_scores = [args.label, args.weight]
    weight = ckio.score_array(frame, [args.weight]) if args.weight else None
    kind = args.input or (calibrator.input if calibrator else "probabilities")
    options = {"sample_weight": weight, "n_bins": args.n_bins}

    if calibrator is None:
        labels, columns = _prediction_columns(frame, args, exclude=not_scores, y=y)
        X = ckio.score_array(frame, columns)
        evaluations = [
            _evaluate_raw(y, X, "predictions", kind, labels, options, columns)
        ]
    else:
        labels = calibrator.classes_
        _, columns = _prediction_columns(
            frame, args, exclude=not_scores, classes=labels, stored=stored
        )
        _check_n_columns(columns, calibrator)
        _check_known_labels(y, labels, args.label)
        X = ckio.score_array(frame, columns)
        raw = _evaluate_raw(y, X, "uncalibrated", kind, labels, options, columns)
        name = f"calibrated ({type(calibrator).__name__})"
        proba = calibrator.predict_proba(X)
        evaluations = [
            raw,
            evaluate_forecasts(y, proba, name=name, labels=labels, **options),
        ]
    print(format_table(evaluations))
    # Both outputs are built before either is written, and written together,
    # so that a failure leaves neither (not a JSON file without its report).
    outputs = []
    if args.json:
        text = to_json(evaluations, extra={"source": str(args.predictions)})
        outputs.append((args.json, text))
    if args.report:
        description = (
            f"Predictions from {args.predictions}, labels in column {args.label!r}."
        )
        outputs.append((args.report, render_html(evaluations, description=description)))
    _write_texts(outputs)
    for path, _ in outputs:
        console.info(f"wrote {path}")
    return 0


def _write_texts(outputs):
    """Write ``(path, text)`` pairs all or none.

    Each text goes to a temporary file next to its path; only when every one
    is written are they renamed into place (renames do not fail for want of
    space), and an error before that deletes them all.
    """
    with contextlib.ExitStack() as stack:
        for path, text in outputs:
            tmp = stack.enter_context(ckio.atomic_output(path))
            tmp.write_text(text, encoding="utf-8")


def _evaluate_raw(y, X, name, kind, labels, options, columns):
    from calibkit.report import evaluate_forecasts

    try:
        return evaluate_forecasts(y, X, name=name, input=kind, labels=labels, **options)
    except ValueError as exc:
        text = str(exc)
        if kind == "probabilities" and "must hold probabilities" in text:
            text = text.split(" Pass logits")[0]
            msg = (
                f"columns {', '.join(columns[:6])}: {text} If they are scores or "
                "logits, pass --input logits."
            )
            raise ValueError(msg) from None
        raise


def _check_known_labels(y, classes, column):
    unseen = _unseen(y, classes)
    if unseen.any():
        values = [format_label(v) for v in np.unique(y[unseen])[:5]]
        known = ", ".join(format_label(c) for c in classes)
        msg = (
            f"label column {column!r} has values not seen when the calibrator was "
            f"fitted: {values} (first at row {int(np.flatnonzero(unseen)[0])}); "
            f"the calibrator knows [{known}]."
        )
        raise ValueError(msg)


def _unseen(y, classes):
    """Rows whose label is not among ``classes`` (strings never equal numbers)."""
    textual = {y.dtype.kind in "OUS", np.asarray(classes).dtype.kind in "OUS"}
    if len(textual) == 2:
        return np.ones(y.shape[0], dtype=bool)
    return ~np.isin(y, classes)


#: Files ``calibkit demo`` writes into --out.
DEMO_FILES = (
    "calibration.csv",
    "test.csv",
    "reliability.png",
    "decomposition.png",
    "report.html",
)


#: The demo's record of the files it wrote, with their SHA-256 digests, so that
#: a rerun replaces its own unchanged output but never a file the user made or
#: edited.
DEMO_MANIFEST = ".calibkit-demo.json"


# --- demo -----------------------------------------------------------------------------


def _sha256(path):
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(2**20):
            digest.update(chunk)
    return digest.hexdigest()


def _demo_own_files(out):
    """Names of DEMO_FILES in ``out`` that an earlier demo wrote, unchanged since."""
    import json

    try:
        recorded = json.loads((out / DEMO_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    if not isinstance(recorded, dict):
        return set()
    return {
        name
        for name in DEMO_FILES
        if isinstance(recorded.get(name), str)
        and (out / name).is_file()
        and _sha256(out / name) == recorded[name]
    }


def _write_demo_manifest(out, written):
    import json

    digests = {Path(path).name: _sha256(path) for path in written}
    with ckio.atomic_output(out / DEMO_MANIFEST) as tmp:
        tmp.write_text(json.dumps(digests, indent=1), encoding="utf-8")


def _run_demo(args, console):
    import pandas as pd

    from calibkit.report._report import (
        decomposition_figure,
        evaluate_forecasts,
        figure_png,
        format_table,
        matplotlib_available,
        reliability_png,
        write_report,
    )

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        msg = f"--out '{out}' exists and is not a directory."
        raise ValueError(msg)
    existing = [name for name in DEMO_FILES if (out / name).exists()]
    own = _demo_own_files(out)
    foreign = [name for name in existing if name not in own]
    if foreign and not args.force:
        msg = (
            f"--out '{out}' already holds {', '.join(foreign)}, not as an earlier "
            "demo left them; the demo does not replace such files. Choose another "
            "directory, or pass --force to overwrite."
        )
        raise ValueError(msg)
    out.mkdir(parents=True, exist_ok=True)
    cal_scores, y_cal, test_scores, y_test = _demo_scores()
    evaluations = [
        evaluate_forecasts(y_test, test_scores, name="uncalibrated", input="logits")
    ]
    notes = []
    for name, cls in METHODS.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            calibrator = cls().fit(cal_scores, y_cal)
        notes += _demo_notes(name, caught)
        proba = calibrator.predict_proba(test_scores)
        evaluations.append(
            evaluate_forecasts(y_test, proba, name=name, labels=calibrator.classes_)
        )
    print(
        "LinearSVC on scikit-learn's digits: decision scores read as logits, "
        f"calibrated on {len(y_cal)} rows, scored on {len(y_test)} held-out rows.\n"
    )
    print(format_table(evaluations))
    if notes and not args.quiet:
        print("\nnotes:")
        for note in notes:
            print(
                textwrap.fill(
                    " ".join(note.split()),
                    initial_indent="  ",
                    subsequent_indent="    ",
                )
            )

    written = []
    for name, scores, y in (
        ("calibration", cal_scores, y_cal),
        ("test", test_scores, y_test),
    ):
        columns = [f"score_{k}" for k in range(scores.shape[1])]
        table = pd.DataFrame(scores, columns=columns)
        table.insert(0, "label", y)
        ckio.write_table(table, out / f"{name}.csv")
        written.append(out / f"{name}.csv")
    images = {}
    if matplotlib_available():
        images["reliability"] = reliability_png(evaluations)
        images["decomposition"] = figure_png(decomposition_figure(evaluations))
        for name, png in images.items():
            _write_bytes(out / f"{name}.png", png)
            written.append(out / f"{name}.png")
    else:
        console.info(
            "matplotlib is not installed: no diagrams (pip install 'calibkit[plot]')."
        )
    description = (
        "A linear support vector machine trained on scikit-learn's handwritten "
        "digits; its decision scores on held-out rows, read as logits, are "
        f"calibrated on {len(y_cal)} rows and scored on {len(y_test)} other rows."
    )
    report = write_report(
        out / "report.html",
        evaluations,
        title="calibkit demo",
        description=description,
        images=images,
    )
    written.append(report)
    _write_demo_manifest(out, written)
    if not args.quiet:
        print("\nwrote " + ", ".join(str(p) for p in written))
        print(
            "next, try the same on the saved scores:\n"
            f"  calibkit fit {out / 'calibration.csv'} --label label --prefix score_ "
            f"-o {out / 'calibrator.json'}\n"
            f"  calibkit evaluate {out / 'test.csv'} --label label --prefix score_ "
            f"--calibrator {out / 'calibrator.json'} "
            f"--report {out / 'test_report.html'}"
        )
    return 0


def _demo_notes(name, caught):
    """Warnings of a demo fit as short notes (separable classes summarised)."""
    from calibkit.exceptions import NoFiniteOptimumWarning

    separable = [w for w in caught if issubclass(w.category, NoFiniteOptimumWarning)]
    notes = [f"{name}: {w.message}" for w in caught if w not in separable]
    if separable and name == "platt":
        notes.append(
            f"platt: for {len(separable)} of the classes the scores separate the "
            "class from the rest (no finite optimum of the one-vs-rest fit), so "
            "those fits used Platt's smoothed targets."
        )
    else:
        notes += [f"{name}: {w.message}" for w in separable]
    return notes


def _demo_scores(seed=0):
    """Decision scores of a linear SVM on digits, on calibration and test rows."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler
    from sklearn.svm import LinearSVC

    X, y = load_digits(return_X_y=True)
    # Half for training, a quarter each to fit and to score the calibrators.
    X_train, X_rest, y_train, y_rest = train_test_split(
        X, y, train_size=0.5, stratify=y, random_state=seed
    )
    X_cal, X_test, y_cal, y_test = train_test_split(
        X_rest, y_rest, train_size=0.5, stratify=y_rest, random_state=seed
    )
    model = make_pipeline(MinMaxScaler(), LinearSVC(random_state=seed))
    model.fit(X_train, y_train)
    return (
        model.decision_function(X_cal),
        y_cal,
        model.decision_function(X_test),
        y_test,
    )


def _write_bytes(path, data):
    with ckio.atomic_output(path) as tmp:
        tmp.write_bytes(data)
    return path
