"""numpydoc validation of every public callable, against a shrinking allowlist.

Each public function, class, method and property that the API reference
documents is validated with :func:`numpydoc.validate.validate`. Errors of the
checks the docs build skips (``NUMPYDOC_SKIPPED_CHECKS`` in
``docs/_ext/calibkit_docs.py``, each with its reason) are ignored; every other
error must be listed in ``docs/numpydoc_allowlist.txt``. A new error fails
the test, and so does a listed one that is gone, so the list only shrinks.

After fixing docstrings (or when a name moved), rewrite the list with::

    python tests/test_docstrings.py --update
"""

import sys
from pathlib import Path

import pytest

numpydoc_validate = pytest.importorskip("numpydoc.validate")
pytest.importorskip("sphinx")

DOCS = Path(__file__).resolve().parents[1] / "docs"
sys.path.insert(0, str(DOCS / "_ext"))

import calibkit_docs  # noqa: E402

HEADER = """\
# numpydoc errors of public docstrings still to fix: "name CODE" per line.
# Only ever remove lines: tests/test_docstrings.py fails on an error not listed
# here and on a line whose error is gone. Regenerate after fixing docstrings:
#     python tests/test_docstrings.py --update
"""


def current_errors():
    """``{(name, code): message}`` of every enforced numpydoc error."""
    skipped = set(calibkit_docs.NUMPYDOC_SKIPPED_CHECKS)
    errors = {}
    for name in calibkit_docs.documented_objects():
        for code, message in numpydoc_validate.validate(name)["errors"]:
            if code not in skipped:
                errors.setdefault((name, code), message)
    return errors


def test_public_callables_are_found():
    names = set(calibkit_docs.documented_objects())
    assert {
        "calibkit.PlattScaling",
        "calibkit.PlattScaling.fit",
        "calibkit.metrics.log_loss",
        "calibkit.metrics.CalibrationScorer.__call__",
        "calibkit.plotting.ReliabilityDisplay.plot",
        "calibkit.plotting.ReliabilityDisplay.from_predictions",
    } <= names
    # Inherited from scikit-learn and documented there.
    assert "calibkit.PlattScaling.get_params" not in names
    assert "calibkit.PlattScaling.set_fit_request" not in names


def test_no_new_numpydoc_errors():
    errors = current_errors()
    allowed = calibkit_docs.read_numpydoc_allowlist()
    new = sorted(set(errors) - allowed)
    fixed = sorted(allowed - set(errors))
    print(
        f"numpydoc: {len(allowed)} allowlisted errors in "
        f"{len({name for name, _ in allowed})} objects"
    )
    assert not new, "New numpydoc errors:\n" + "\n".join(
        f"  {name} {code}: {errors[name, code]}" for name, code in new
    )
    assert not fixed, (
        "Fixed (or renamed) since the allowlist was written; remove these lines "
        "from docs/numpydoc_allowlist.txt or run "
        "`python tests/test_docstrings.py --update`:\n"
        + "\n".join(f"  {name} {code}" for name, code in fixed)
    )


def write_allowlist(path=calibkit_docs.NUMPYDOC_ALLOWLIST):
    """Write the current errors as the allowlist; return their number."""
    errors = current_errors()
    lines = [f"{name} {code}" for name, code in sorted(errors)]
    path.write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit(__doc__)
    print(f"{write_allowlist()} errors written to {calibkit_docs.NUMPYDOC_ALLOWLIST}")
