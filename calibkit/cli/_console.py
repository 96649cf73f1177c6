"""What the command prints on stderr: errors, warnings, information, progress.

Library errors and warnings that carry their message as fields
(:class:`calibkit.exceptions.InputError`, calibkit's warnings) are re-worded
here from those fields: the Python argument becomes the command line's name
for it, and a suggested setting such as ``input='logits'`` becomes the
option ``--input logits``. Other messages are printed as they are.
"""

import os
import sys

from calibkit import io as ckio

PROG = "calibkit"

#: Inputs at least this large (bytes read, or rows written) get a progress bar,
#: when stderr is a terminal and ``--quiet`` is not given.
PROGRESS_MIN_BYTES = 32 * 2**20
PROGRESS_MIN_ROWS = 1_000_000

#: Python argument names in library messages, and how the command line says
#: them (the one place where the two vocabularies meet).
ARGUMENT_NAMES = {
    "X": "the score table",
    "y_prob": "the score table",
    "y": "the label column",
    "y_true": "the label column",
    "sample_weight": "the --weight column",
    "n_bins": "--n-bins",
    "groups": "the --groups column",
}


def option_setting(name, value):
    """A parameter setting as an option: ``input='logits'`` is ``--input logits``."""
    return f"--{name.replace('_', '-')} {value}"


def cli_message(message, *, hint=None):
    """The text of an exception or warning, in the command line's words.

    Parameters
    ----------
    message : BaseException or Warning
        With fields (``render``), the argument and the settings are named as
        on the command line; without, its text is used as it is.
    hint : str or None, default=None
        Advice to give instead of the message's own hint.

    Returns
    -------
    str
        On one line.
    """
    render = getattr(message, "render", None)
    if render is not None and getattr(message, "problem", None) is not None:
        argument = message.argument
        text = render(
            argument=ARGUMENT_NAMES.get(argument, argument),
            spell=option_setting,
            hint=hint,
        )
    else:
        text = str(message)
    return " ".join(text.split())


class Console:
    """Messages on stderr: errors and warnings always, the rest unless quiet."""

    def __init__(self, command, *, quiet):
        self.command = command
        self.quiet = quiet

    def info(self, message):
        if not self.quiet:
            print(message, file=sys.stderr)

    def error(self, exc):
        text = cli_message(exc) or type(exc).__name__
        if isinstance(exc, MemoryError):
            text = f"not enough memory ({text})."
        elif isinstance(exc, RecursionError):
            text = "input nested too deeply."
        print(f"{PROG} {self.command}: error: {text}", file=sys.stderr)

    def warnings(self, caught):
        seen = set()
        # Users get the warnings about their results (UserWarning and its
        # subclasses, calibkit's included), not libraries' deprecation notes.
        for record in (r for r in caught if issubclass(r.category, UserWarning)):
            text = cli_message(record.message)
            if text not in seen:
                seen.add(text)
                print(f"{PROG} {self.command}: warning: {text}", file=sys.stderr)

    def shows_progress(self, size, threshold):
        """Whether a job of ``size`` gets progress messages."""
        return not self.quiet and size >= threshold and stderr_is_terminal()

    def shows_row_progress(self, n_rows):
        """Whether a job over ``n_rows`` rows gets progress messages."""
        return self.shows_progress(n_rows, PROGRESS_MIN_ROWS)

    def progress(self, label, size, threshold):
        """A progress callback for a job of ``size``, or None for small jobs."""
        return ProgressBar(label) if self.shows_progress(size, threshold) else None

    def read(self, path, *, label=None):
        """Read a table with :func:`calibkit.io.read_table`, showing progress."""
        size = 0 if str(path) == "-" else _file_size(path)
        progress = self.progress(f"reading {path}", size, PROGRESS_MIN_BYTES)
        text = [label] if label is not None else []
        return ckio.read_table(path, progress=progress, text_columns=text)

    def write(self, frame, path):
        """Write a table with :func:`calibkit.io.write_table`, showing progress."""
        progress = None
        if ckio.detect_format(path) == "csv" and str(path) != "-":
            progress = self.progress(
                f"writing {path}", frame.shape[0], PROGRESS_MIN_ROWS
            )
        ckio.write_table(frame, path, progress=progress)


def stderr_is_terminal():
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


def _file_size(path):
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


class ProgressBar:
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
