"""Option helpers shared by the subcommands' parsers."""

import argparse

from calibkit.io._formats import check_distinct_paths


def add_subcommand(subparsers, name, *, help, description, examples):
    """Add subcommand ``name`` with ``--quiet`` and an examples epilog."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bar and no informational messages (errors and "
        "warnings are still shown)",
    )
    return subparsers.add_parser(
        name,
        parents=[common],
        help=help,
        description=description,
        epilog="examples:\n" + "\n".join(f"  {line}" for line in examples),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def add_predictions(parser, *, default, label=True, repeat_prefix=False):
    """The PREDICTIONS file, ``--label`` (unless ``label=False``) and the column
    options (``default`` describes the columns taken without them)."""
    parser.add_argument("predictions", metavar="PREDICTIONS", help="input file, or -")
    if label:
        parser.add_argument(
            "--label", required=True, metavar="COL", help="label column"
        )
    add_column_options(parser, default=default, repeat_prefix=repeat_prefix)


def add_column_options(parser, *, default, repeat_prefix=False):
    """``--columns`` and ``--prefix``, with the default selection described.

    With ``repeat_prefix``, ``--prefix`` may be given several times (a list,
    one forecast set per prefix)."""
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
    repeated = (
        ". Repeat it to score several forecast sets (one per prefix, one row each)"
        if repeat_prefix
        else ""
    )
    group.add_argument(
        "--prefix",
        metavar="PREFIX",
        action="append" if repeat_prefix else "store",
        help="take every column whose name starts with PREFIX; the rest of each "
        f"name is its label (logit_cat is the column of label cat), in any "
        f"order{repeated}",
    )
    group.description = f"Default: {default}"


def column_list(values):
    """The names given with (possibly repeated) ``--columns``, or None."""
    if not values:
        return None
    names = [name.strip() for value in values for name in value.split(",")]
    empty = [n for n in names if not n]
    if empty:
        msg = f"--columns has an empty column name in {','.join(values)!r}."
        raise ValueError(msg)
    return names


def column_choice(args):
    """``--columns`` and ``--prefix`` as keywords of
    :func:`calibkit.io._columns.prediction_columns`."""
    return {"columns": column_list(args.columns), "prefix": args.prefix}


def check_paths(args, inputs, outputs):
    """Refuse an output that is an input or another output (option -> attribute)."""
    check_distinct_paths(
        {k: getattr(args, v) for k, v in inputs.items()},
        {k: getattr(args, v) for k, v in outputs.items()},
    )
