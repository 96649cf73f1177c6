"""``calibkit apply``: add calibrated probability columns to a file."""

from calibkit import io as ckio
from calibkit.cli._options import (
    add_predictions,
    add_subcommand,
    check_paths,
    column_choice,
)
from calibkit.io._formats import check_output_path, describe_path

_OUTPUT_PREFIX = "calibrated_"


def add_parser(subparsers):
    parser = add_subcommand(
        subparsers,
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
    add_predictions(
        parser, label=False, default="the columns the calibrator was fitted on."
    )
    parser.add_argument(
        "-o", "--output", required=True, metavar="OUT", help="output file, or -"
    )
    parser.add_argument(
        "--output-prefix",
        default=_OUTPUT_PREFIX,
        metavar="PREFIX",
        help=f"prefix of the probability columns (default: {_OUTPUT_PREFIX})",
    )
    parser.set_defaults(command="apply", run=run)


def load_calibrator(path, choice):
    """A saved calibrator and its columns (None when ``choice`` selects some)."""
    from calibkit._persistence import load_with_metadata
    from calibkit.io._columns import stored_columns

    calibrator, metadata = load_with_metadata(path)
    if choice["columns"] is not None or choice["prefix"] is not None:
        return calibrator, None
    return calibrator, stored_columns(calibrator, metadata, path)


def run(args, console):
    # Imported here, not at the top: ``calibkit --help`` must not wait for
    # numpy, pandas or scikit-learn.
    import pandas as pd

    from calibkit._validation import format_label
    from calibkit.io._columns import check_n_columns, prediction_columns

    check_output_path(args.output, name="--output", stdout=True)
    ckio.detect_format(args.output)
    check_paths(
        args,
        {"CALIBRATOR": "calibrator", "PREDICTIONS": "predictions"},
        {"--output": "output"},
    )
    choice = column_choice(args)
    calibrator, stored = load_calibrator(args.calibrator, choice)
    frame = console.read(args.predictions)
    _, columns = prediction_columns(
        frame, **choice, classes=calibrator.classes_, stored=stored
    )
    check_n_columns(columns, calibrator)
    X = ckio.score_array(frame, columns)
    if console.shows_row_progress(frame.shape[0]):
        console.info(f"calibrating {frame.shape[0]} rows ...")
    proba = calibrator.predict_proba(X)
    names = [f"{args.output_prefix}{format_label(c)}" for c in calibrator.classes_]
    clash = [n for n in names if n in frame.columns]
    if clash:
        msg = (
            f"{describe_path(args.predictions)} already has column(s) {clash}; choose "
            "another --output-prefix."
        )
        raise ValueError(msg)
    calibrated = pd.DataFrame(proba, columns=names, index=frame.index)
    console.write(pd.concat([frame, calibrated], axis=1), args.output)
    if str(args.output) != "-":
        console.info(
            f"wrote {args.output}: {frame.shape[0]} rows, columns "
            f"{names[0]} ... {names[-1]}"
        )
    return 0
