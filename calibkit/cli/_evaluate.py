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
#: Largest --n-resamples.
MAX_RESAMPLES = 1_000_000


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
            "in the sorted order of the labels. With --ci, every score gets a "
            "bootstrap confidence interval and forecast sets are compared in pairs "
            "(difference, paired-bootstrap interval, Diebold-Mariano test); "
            "--prefix repeated scores several forecast sets, one row each."
        ),
        examples=[
            "calibkit evaluate calibrated.csv --label y --prefix calibrated_",
            "calibkit evaluate test.csv --label y --prefix logit_ --calibrator "
            "cal.json --report report.html",
            "calibkit evaluate preds.parquet --label y --columns p --json metrics.json",
            "calibkit evaluate test.csv --label y --prefix logit_ --calibrator "
            "cal.json --ci --n-resamples 200",
        ],
    )
    add_predictions(
        parser,
        default="the calibrator's columns with --calibrator, else every column "
        "except --label and --weight.",
        repeat_prefix=True,
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
        "worst group; the report gets the tables and a diagram per group (at "
        "most 50 groups listed and 12 drawn: the heaviest and the worst; "
        "--json has all)",
    )
    parser.add_argument(
        "--n-bins",
        default="10",
        metavar="N",
        help=f"ECE bins, 1 to {MAX_N_BINS} (default: 10)",
    )
    parser.add_argument(
        "--model",
        metavar="COL",
        help="column naming the forecast set of each row (long format: the "
        "rows of each value are scored as one forecast set, one row each)",
    )
    parser.add_argument(
        "--ci",
        nargs="?",
        const="0.95",
        metavar="LEVEL",
        help="bootstrap confidence intervals of every score, at LEVEL (default "
        "0.95), and paired comparisons of the forecast sets",
    )
    parser.add_argument(
        "--n-resamples",
        metavar="N",
        help=f"bootstrap resamples of --ci, 2 to {MAX_RESAMPLES} (default: 1000)",
    )
    parser.add_argument(
        "--seed",
        metavar="N",
        help="seed of the bootstrap resamples (default: 0)",
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


def check_ci(args):
    """--ci, --n-resamples and --seed as (level or None, resamples, seed)."""
    if args.ci is None:
        for option, value in (
            ("--n-resamples", args.n_resamples),
            ("--seed", args.seed),
        ):
            if value is not None:
                msg = f"{option} is only used with --ci (bootstrap intervals)."
                raise ValueError(msg)
        return None, None, None
    level = None
    with contextlib.suppress(ValueError):
        level = float(args.ci)
    if level is None or not 0 < level < 1:
        msg = f"--ci must be a confidence level between 0 and 1; got {args.ci[:30]}."
        raise ValueError(msg)
    text = "1000" if args.n_resamples is None else args.n_resamples
    resamples = None
    with contextlib.suppress(ValueError):
        resamples = int(text)
    if resamples is None or not 2 <= resamples <= MAX_RESAMPLES:
        msg = (
            f"--n-resamples must be a whole number from 2 to {MAX_RESAMPLES}; "
            f"got {text[:30]}."
        )
        raise ValueError(msg)
    text = "0" if args.seed is None else args.seed
    seed = None
    with contextlib.suppress(ValueError):
        seed = int(text)
    if seed is None or seed < 0:
        msg = f"--seed must be a whole number, 0 or more; got {text[:30]}."
        raise ValueError(msg)
    return level, resamples, seed


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
    level, n_resamples, seed = check_ci(args)
    prefixes = args.prefix or []
    _prefix_names(prefixes)  # a prefix given twice fails before the file is read
    if len(prefixes) > 1 and (args.calibrator is not None or args.columns):
        msg = (
            "--prefix is given several times (one forecast set each); it cannot "
            "be combined with --calibrator or --columns."
        )
        raise ValueError(msg)
    if args.model is not None and (args.calibrator is not None or len(prefixes) > 1):
        msg = (
            "--model (one forecast set per value) cannot be combined with "
            "--calibrator or a repeated --prefix."
        )
        raise ValueError(msg)
    for option, path in (("--report", args.report), ("--json", args.json)):
        check_output_path(path, name=option)
    check_paths(
        args,
        {"PREDICTIONS": "predictions", "--calibrator": "calibrator"},
        {"--json": "json", "--report": "report"},
    )
    choice = column_choice(args)
    choice["prefix"] = prefixes[0] if len(prefixes) == 1 else None
    calibrator, stored = None, None
    if args.calibrator is not None:
        calibrator, stored = load_calibrator(args.calibrator, choice)
    frame = console.read(args.predictions, label=args.label)
    y = ckio.label_array(frame, args.label)
    not_scores = [args.label, args.weight, args.groups, args.model]
    weight = ckio.score_array(frame, [args.weight]) if args.weight else None
    groups = None
    if args.groups is not None:
        from calibkit.io._columns import group_array

        groups = group_array(frame, args.groups, role="--groups column")
    kind = args.input or (calibrator.input if calibrator else "probabilities")
    options = {"sample_weight": weight, "n_bins": n_bins}
    if level is not None:
        options.update(ci=level, n_resamples=n_resamples, random_state=seed)

    group_rows = groups
    if args.model is not None:
        evaluations, model_rows = _evaluate_models(
            frame, args, choice, not_scores, kind, options
        )
        if groups is not None:
            group_rows = [groups[rows] for rows in model_rows]
    elif len(prefixes) > 1:
        evaluations = _evaluate_prefixes(frame, prefixes, y, not_scores, kind, options)
    elif calibrator is None:
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
        by_group = _report.evaluate_groups(evaluations, group_rows, column=args.groups)
    print(_report.format_table(evaluations))
    if by_group is not None:
        print()
        print(_report.format_group_tables(by_group))
    comparisons = None
    if level is not None:
        comparisons = _report.compare_evaluations(
            evaluations,
            confidence_level=level,
            n_resamples=n_resamples,
            random_state=seed,
        )
        if comparisons:
            print()
            print(_report.format_comparisons(comparisons))
    # Both outputs are built before either is written, and written together,
    # so that a failure leaves neither (not a JSON file without its report).
    outputs = []
    if args.json:
        extra = {"source": str(args.predictions)}
        if by_group is not None:
            extra["calibration_by_group"] = _report.group_tables_json(by_group)
        if comparisons:
            extra["comparisons"] = [
                {"first": a, "second": b, **_report.comparison_fields(c)}
                for a, b, c in comparisons
            ]
        text = _report.to_json(evaluations, extra=extra)
        outputs.append((args.json, text))
    if args.report:
        description = (
            f"Predictions from {args.predictions}, labels in column {args.label!r}."
        )
        html = _report.render_html(
            evaluations,
            description=description,
            groups=by_group,
            comparisons=comparisons,
        )
        outputs.append((args.report, html))
    write_texts(outputs)
    for path, _ in outputs:
        console.info(f"wrote {path}")
    return 0


def _evaluate_prefixes(frame, prefixes, y, not_scores, kind, options):
    """One evaluation per --prefix, each column in the longest prefix it
    starts with (--prefix p_ --prefix p_cal_ splits p_1, p_cal_1)."""
    from calibkit.io._columns import prediction_columns

    evaluations = []
    for prefix, name in zip(prefixes, _prefix_names(prefixes), strict=True):
        longer = [q for q in prefixes if len(q) > len(prefix) and q.startswith(prefix)]
        claimed = [c for c in frame.columns if c.startswith(tuple(longer))]
        own = [c for c in frame.columns if c.startswith(prefix)]
        if own and set(own) <= set(claimed):
            msg = (
                f"every column starting with --prefix {prefix!r} is taken by a "
                f"longer --prefix ({', '.join(map(repr, longer))})."
            )
            raise ValueError(msg)
        labels, columns = prediction_columns(
            frame, prefix=prefix, exclude=not_scores + claimed, y=y
        )
        X = ckio.score_array(frame, columns)
        evaluations.append(_evaluate_raw(y, X, name, kind, labels, options, columns))
    return evaluations


def _prefix_names(prefixes):
    """Names of the forecast sets of a repeated --prefix: the prefix without
    its trailing underscores, or the prefix itself where those would clash."""
    repeated = sorted({p for p in prefixes if prefixes.count(p) > 1})
    if repeated:
        msg = f"--prefix {repeated[0]!r} is given twice."
        raise ValueError(msg)
    names = [p.rstrip("_") or p for p in prefixes]
    if len(set(names)) < len(names):
        return list(prefixes)
    return names


def _evaluate_models(frame, args, choice, not_scores, kind, options):
    """One evaluation per value of the --model column (in order of appearance),
    and the rows of each (boolean masks over the file's rows)."""
    from calibkit.io._columns import group_array, prediction_columns

    if args.model == args.label:
        msg = f"--model and --label name the same column ({args.model!r})."
        raise ValueError(msg)
    names = group_array(frame, args.model, role="--model column")
    evaluations, masks = [], []
    for value in _distinct_in_order(names):
        mask = names == value
        rows = frame[mask].reset_index(drop=True)
        rows.attrs = frame.attrs
        try:
            y = ckio.label_array(rows, args.label)
            labels, columns = prediction_columns(
                rows, **choice, exclude=not_scores, y=y
            )
            X = ckio.score_array(rows, columns)
            model_options = dict(options)
            if args.weight:
                model_options["sample_weight"] = ckio.score_array(rows, [args.weight])
            evaluation = _evaluate_raw(
                y, X, str(value), kind, labels, model_options, columns
            )
        except ValueError as exc:
            # Row numbers and problems are those of this model's rows.
            msg = f"in the rows of --model {value!r}: {cli_message(exc)}"
            raise ValueError(msg) from None
        evaluations.append(evaluation)
        masks.append(mask)
    return evaluations, masks


def _distinct_in_order(values):
    """The distinct values in order of appearance."""
    import pandas as pd

    return pd.unique(pd.Series(values, dtype=object))


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
