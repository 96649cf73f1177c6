"""``calibkit fit``: fit a calibrator on a file of predictions and labels."""

from pathlib import Path

import numpy as np

from calibkit import io as ckio
from calibkit._validation import format_label
from calibkit.calibrators._selection import METHODS
from calibkit.cli._options import (
    add_column_options,
    add_subcommand,
    check_paths,
    column_choice,
)
from calibkit.io._columns import prediction_columns
from calibkit.io._formats import check_output_path

#: Methods of ``fit --method``, in the order ``auto`` tries them.
METHOD_NAMES = tuple(METHODS)


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
    parser.add_argument("predictions", metavar="PREDICTIONS", help="input file, or -")
    parser.add_argument("--label", required=True, metavar="COL", help="label column")
    add_column_options(parser, default="every column except --label and --weight.")
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
    parser.set_defaults(command="fit", run=run)


def run(args, console):
    from calibkit._persistence import save

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


# The calibrator registry's jobs, to be read from it once it exists: the
# methods above, the summary of a fitted calibrator, and "auto".


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
