"""The ``calibkit`` command: calibrate saved predictions without writing Python.

Subcommands (``calibkit SUBCOMMAND --help`` shows examples for each):

- ``demo``: calibrate a scikit-learn model's held-out scores with every method,
  print the scores and write reliability diagrams and an HTML report;
- ``fit``: fit a calibrator on a file of predictions and labels, save it as JSON;
- ``apply``: add calibrated probability columns to a file of predictions;
- ``evaluate``: score predictions (optionally before and after a calibrator),
  print a table, write JSON and an HTML report.

Errors print one line on stderr and exit with status 2.

The package only parses arguments and prints: one private module per
subcommand (``_demo``, ``_fit``, ``_apply``, ``_evaluate``, each with
``add_parser(subparsers)`` and ``run(args, console)``), the parser and its list
of subcommands (``_parser``), shared options (``_options``) and what goes to
stderr (``_console``). Files, columns and labels are handled by
:mod:`calibkit.io`; the calibrators, ``--method`` choices, ``auto`` and the
fitted summaries come from the calibrator registry; the scores, the report
and the demo's data from :mod:`calibkit.report`. To add a subcommand, add a
module with those two functions and list it in ``_parser.SUBCOMMANDS``.
"""

import contextlib
import os
import signal
import sys
import warnings

from calibkit.cli._console import PROG, Console
from calibkit.cli._parser import build_parser

__all__ = ["build_parser", "main"]

_EXIT_ERROR = 2
_EXIT_INTERRUPTED = 130
#: A closed pipe on standard output (``calibkit apply ... -o - | head``): exit
#: quietly with the status a process killed by SIGPIPE reports (128 + 13), as
#: ``yes | head`` does, so that ``set -o pipefail`` still sees it.
_EXIT_BROKEN_PIPE = 141
_EXIT_TERMINATED = 143


class _Terminated(BaseException):
    """SIGTERM, raised so that temporary files are removed on the way out."""


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
        *others, last = args.subcommands
        listed = f"{', '.join(others)} or {last}"
        print(f"{PROG}: error: choose a subcommand: {listed}.", file=sys.stderr)
        return _EXIT_ERROR
    console = Console(args.command, quiet=args.quiet)
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
