"""``calibkit evaluate``: score predictions, print a table, write JSON/HTML."""

import contextlib

from calibkit import io as ckio
from calibkit.cli._apply import load_calibrator
from calibkit.cli._console import cli_message
from calibkit.cli._options import (
    add_predictions,
    add_subcommand,
    check_paths,
    column_choice,
)
from calibkit.exceptions import InputError
from calibkit.io._formats import check_output_path

#: Largest --n-bins (ECE bins).
MAX_N_BINS = 10_000


def add_parser(subparsers):
    parser = add_subcommand(
        subparsers,
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
    add_predictions(
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
        "--groups",
        metavar="COL",
        help="column of group labels: also print calibration in each group (bias "
        "with its standard error and t-test, ECE, log-loss, Brier, MCB) and the "
        "worst group; the report gets the tables and a diagram per group",
    )
    parser.add_argument(
        "--n-bins",
        default="10",
        metavar="N",
        help=f"ECE bins, 1 to {MAX_N_BINS} (default: 10)",
    )
    parser.add_argument("--report", metavar="FILE.html", help="write an HTML report")
    parser.add_argument("--json", metavar="FILE.json", help="write the scores as JSON")
    parser.set_defaults(command="evaluate", run=run)


def check_n_bins(text):
    """--n-bins, checked here rather than by argparse so the error is one line."""
    value = None
    with contextlib.suppress(ValueError):
        value = int(text)
    if value is None or not 1 <= value <= MAX_N_BINS:
        shown = text if len(text) <= 30 else text[:30] + "..."
        msg = f"--n-bins must be a whole number from 1 to {MAX_N_BINS}; got {shown}."
        raise ValueError(msg)
    return value


def run(args, console):
    # Looked up when called, so that tests can replace the report's parts (and
    # so that ``calibkit --help`` does not wait for numpy or scikit-learn).
    from calibkit.io._columns import (
        check_known_labels,
        check_n_columns,
        prediction_columns,
    )
    from calibkit.io._write import write_texts
    from calibkit.report import _report

    n_bins = check_n_bins(args.n_bins)
    for option, path in (("--report", args.report), ("--json", args.json)):
        check_output_path(path, name=option)
    check_paths(
        args,
        {"PREDICTIONS": "predictions", "--calibrator": "calibrator"},
        {"--json": "json", "--report": "report"},
    )
    choice = column_choice(args)
    calibrator, stored = None, None
    if args.calibrator is not None:
        calibrator, stored = load_calibrator(args.calibrator, choice)
    frame = console.read(args.predictions, label=args.label)
    y = ckio.label_array(frame, args.label)
    not_scores = [args.label, args.weight, args.groups]
    weight = ckio.score_array(frame, [args.weight]) if args.weight else None
    groups = None
    if args.groups is not None:
        from calibkit.io._columns import group_array

        groups = group_array(frame, args.groups, role="--groups column")
    kind = args.input or (calibrator.input if calibrator else "probabilities")
    options = {"sample_weight": weight, "n_bins": n_bins}

    if calibrator is None:
        labels, columns = prediction_columns(frame, **choice, exclude=not_scores, y=y)
        X = ckio.score_array(frame, columns)
        evaluations = [
            _evaluate_raw(y, X, "predictions", kind, labels, options, columns)
        ]
    else:
        labels = calibrator.classes_
        _, columns = prediction_columns(
            frame, **choice, exclude=not_scores, classes=labels, stored=stored
        )
        check_n_columns(columns, calibrator)
        check_known_labels(y, labels, args.label)
        X = ckio.score_array(frame, columns)
        raw = _evaluate_raw(y, X, "uncalibrated", kind, labels, options, columns)
        name = f"calibrated ({type(calibrator).__name__})"
        proba = calibrator.predict_proba(X)
        evaluations = [
            raw,
            _report.evaluate_forecasts(y, proba, name=name, labels=labels, **options),
        ]
    by_group = None
    if groups is not None:
        # Before anything is printed: a bad grouping is an error on its own.
        by_group = _report.evaluate_groups(
            evaluations,
            groups,
            column=args.groups,
            sample_weight=weight,
            n_bins=n_bins,
        )
    print(_report.format_table(evaluations))
    if by_group is not None:
        print()
        print(_report.format_group_tables(by_group))
    # Both outputs are built before either is written, and written together,
    # so that a failure leaves neither (not a JSON file without its report).
    outputs = []
    if args.json:
        extra = {"source": str(args.predictions)}
        if by_group is not None:
            extra["calibration_by_group"] = _report.group_tables_json(by_group)
        text = _report.to_json(evaluations, extra=extra)
        outputs.append((args.json, text))
    if args.report:
        description = (
            f"Predictions from {args.predictions}, labels in column {args.label!r}."
        )
        html = _report.render_html(
            evaluations, description=description, groups=by_group
        )
        outputs.append((args.report, html))
    write_texts(outputs)
    for path, _ in outputs:
        console.info(f"wrote {path}")
    return 0


def _evaluate_raw(y, X, name, kind, labels, options, columns):
    from calibkit.report import evaluate_forecasts

    try:
        return evaluate_forecasts(y, X, name=name, input=kind, labels=labels, **options)
    except InputError as exc:
        if kind != "probabilities" or exc.fix.get("input") != "logits":
            raise
        # Probabilities out of [0, 1]: say which columns, and the option.
        text = cli_message(
            exc, hint="If they are scores or logits, pass --input logits."
        )
        msg = f"columns {', '.join(columns[:6])}: {text}"
        raise ValueError(msg) from None
