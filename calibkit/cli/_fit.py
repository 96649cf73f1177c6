"""``calibkit fit``: fit a calibrator on a file of predictions and labels."""

from pathlib import Path

from calibkit import io as ckio
from calibkit.calibrators._registry import (
    CALIBRATORS,
    fitted_summary,
    method_choices,
)
from calibkit.cli._options import (
    add_predictions,
    add_subcommand,
    check_paths,
    column_choice,
)
from calibkit.io._formats import check_output_path


def add_parser(subparsers):
    parser = add_subcommand(
        subparsers,
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
    add_predictions(parser, default="every column except --label and --weight.")
    parser.add_argument(
        "--input",
        choices=("logits", "probabilities"),
        default="logits",
        help="what the columns hold: logits / log-odds / decision scores "
        "(default), or probabilities",
    )
    parser.add_argument(
        "--method",
        choices=method_choices(),
        default="temperature",
        help="calibrator (default: temperature); 'auto' keeps the method with "
        "the lowest 5-fold cross-validated log-loss",
    )
    parser.add_argument("--weight", metavar="COL", help="column of sample weights")
    parser.add_argument(
        "-o", "--output", required=True, metavar="FILE.json", help="calibrator file"
    )
    parser.set_defaults(command="fit", run=run)


def run(args, console):
    # Imported here, not at the top: ``calibkit --help`` must not wait for
    # numpy or scikit-learn.
    from calibkit._persistence import save
    from calibkit._validation import format_label
    from calibkit.calibrators._selection import select_method
    from calibkit.io._columns import prediction_columns

    check_output_path(args.output, name="--output")
    if Path(args.output).suffix.lower() != ".json":
        msg = f"--output must be a .json file; got '{args.output}'."
        raise ValueError(msg)
    check_paths(args, {"PREDICTIONS": "predictions"}, {"--output": "output"})
    frame = console.read(args.predictions, label=args.label)
    y = ckio.label_array(frame, args.label)
    classes, columns = prediction_columns(
        frame, **column_choice(args), exclude=[args.label, args.weight], y=y
    )
    X = ckio.score_array(frame, columns)
    weight = ckio.score_array(frame, [args.weight]) if args.weight else None
    method = args.method
    if method == "auto":
        # The wrapper's rule (CalibratedClassifier(method="auto")): the same
        # scores give the same choice.
        choice = select_method(
            X, y, input=args.input, sample_weight=weight, classes=classes
        )
        method = choice.method
        listed = ", ".join(f"{name} {loss:.4f}" for name, loss in choice.losses.items())
        console.info(f"cross-validated log-loss (nats): {listed}; using {method}")
    calibrator = CALIBRATORS[method](input=args.input)
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
        f"{fitted_summary(calibrator)}; saved {args.output}"
    )
    return 0
