"""``calibkit demo``: calibrate a bundled example end to end, print the scores."""

import textwrap
from pathlib import Path

from calibkit.cli._options import add_subcommand


def add_parser(subparsers):
    parser = add_subcommand(
        subparsers,
        "demo",
        help="calibrate a bundled example end to end and write a report",
        description=(
            "Train a linear SVM on scikit-learn's bundled handwritten digits, read "
            "its decision scores on held-out rows as logits, calibrate them with "
            "every calibrator calibkit has (temperature, Platt, beta, vector, "
            "Dirichlet, matrix and isotonic), print "
            "log-loss, Brier score, ECE and the log-loss decomposition before and "
            "after, and write reliability diagrams (PNG), an HTML report and the "
            "scores (CSV, to try the other subcommands on) to DIR. Takes a few "
            "seconds; the figures need matplotlib (pip install matplotlib)."
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
    parser.set_defaults(command="demo", run=run)


def run(args, console):
    from calibkit.report import _demo, _report

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        msg = f"--out '{out}' exists and is not a directory."
        raise ValueError(msg)
    foreign = _demo.foreign_files(out)
    if foreign and not args.force:
        msg = (
            f"--out '{out}' already holds {', '.join(foreign)}, not as an earlier "
            "demo left them; the demo does not replace such files. Choose another "
            "directory, or pass --force to overwrite."
        )
        raise ValueError(msg)
    data = _demo.demo_scores()
    evaluations, caught = _demo.demo_evaluations(*data)
    notes = [note for name, records in caught.items() for note in _notes(name, records)]
    _, y_cal, _, y_test = data
    print(
        "LinearSVC on scikit-learn's digits: decision scores read as logits, "
        f"calibrated on {len(y_cal)} rows, scored on {len(y_test)} held-out rows.\n"
    )
    print(_report.format_table(evaluations))
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
    written = _demo.write_demo(out, evaluations, data)
    if not any(Path(path).suffix == ".png" for path in written):
        console.info(
            "matplotlib is not installed: no diagrams (pip install matplotlib)."
        )
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


def _notes(name, caught):
    """Warnings of a demo fit as short notes (separable classes summarised)."""
    from calibkit.exceptions import NoFiniteOptimumWarning

    separable = [w for w in caught if issubclass(w.category, NoFiniteOptimumWarning)]
    notes = [f"{name}: {w.message}" for w in caught if w not in separable]
    if len(separable) > 1:  # one per one-vs-rest fit (Platt, beta): say it once
        notes.append(
            f"{name}: for {len(separable)} of the classes the scores separate the "
            "class from the rest (no finite optimum of the one-vs-rest fit), so "
            "those fits used Platt's smoothed targets."
        )
    else:
        notes += [f"{name}: {w.message}" for w in separable]
    return notes
