"""The argument parser of the ``calibkit`` command and its subcommands."""

import argparse

from calibkit._version import __version__
from calibkit.cli import _apply, _demo, _evaluate, _fit
from calibkit.cli._console import PROG

#: The subcommands, in the order ``calibkit --help`` lists them. Each module
#: has ``add_parser(subparsers)`` and ``run(args, console)``.
SUBCOMMANDS = (_demo, _fit, _apply, _evaluate)


def build_parser():
    """The argparse parser of the ``calibkit`` command.

    Returns
    -------
    argparse.ArgumentParser
        The parser, with one subparser per module of ``SUBCOMMANDS``.
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
    subparsers = parser.add_subparsers(title="subcommands", metavar="SUBCOMMAND")
    for module in SUBCOMMANDS:
        module.add_parser(subparsers)
    # For the error without a subcommand, which lists them.
    parser.set_defaults(subcommands=list(subparsers.choices))
    return parser
