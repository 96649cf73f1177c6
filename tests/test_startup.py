"""Start-up: what ``import calibkit``, ``calibkit.metrics`` and ``--help`` import.

Each check runs in a fresh interpreter (this process has imported everything
already) and looks at ``sys.modules``: which modules are loaded is
deterministic, where a timing would not be. The times themselves are measured
by ``benchmarks/startup.py``.
"""

import importlib
import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import calibkit

#: Heavy dependencies, by what may not import them.
NOT_FOR_METRICS = ("sklearn", "pandas", "matplotlib", "scipy.stats")
NOT_FOR_HELP = ("sklearn", "pandas", "scipy", "matplotlib", "numpy", "pyarrow")

PUBLIC_PACKAGES = [
    "calibkit",
    "calibkit.calibrators",
    "calibkit.io",
    "calibkit.metrics",
    "calibkit.plotting",
    "calibkit.report",
]


def _env():
    env = dict(os.environ)
    root = str(Path(calibkit.__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _fresh(code):
    """Run ``code`` in a new interpreter; return what it printed last, as JSON."""
    script = textwrap.dedent(code) + textwrap.dedent(
        """
        import json as _json, sys as _sys
        print(_json.dumps(sorted(_sys.modules)), file=_sys.stderr)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=_env(),
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout, set(json.loads(done.stderr.strip().splitlines()[-1]))


def _loaded(modules, packages):
    """Which of ``packages`` (or their submodules) are among ``modules``."""
    return sorted(
        p for p in packages if any(m == p or m.startswith(p + ".") for m in modules)
    )


def test_import_calibkit_imports_no_heavy_dependency():
    _, modules = _fresh("import calibkit")
    assert _loaded(modules, NOT_FOR_HELP) == []


def test_import_calibkit_metrics_needs_neither_sklearn_nor_pandas():
    # Every public name resolved: each implementation module is imported.
    _, modules = _fresh(
        """
        import calibkit.metrics as m
        for name in m.__all__:
            getattr(m, name)
        """
    )
    assert _loaded(modules, NOT_FOR_METRICS) == []
    assert "calibkit.metrics._decomposition" in modules  # the import did happen


def test_calibrators_do_not_import_matplotlib():
    _, modules = _fresh(
        """
        import calibkit
        for name in calibkit.__all__:
            if name != "plotting":
                getattr(calibkit, name)
        """
    )
    assert "sklearn.base" in modules
    assert _loaded(modules, ["matplotlib"]) == []


@pytest.mark.parametrize("command", [[], ["demo"], ["fit"], ["apply"], ["evaluate"]])
def test_help_imports_no_heavy_dependency(command):
    # As ``python -m calibkit ... --help`` runs it.
    out, modules = _fresh(
        f"""
        import runpy, sys
        sys.argv = ["calibkit", *{command!r}, "--help"]
        try:
            runpy.run_module("calibkit", run_name="__main__")
        except SystemExit as exc:
            assert exc.code == 0, exc.code
        """
    )
    assert out.startswith(f"usage: {' '.join(['calibkit', *command])}")
    assert _loaded(modules, NOT_FOR_HELP) == []


def test_help_lists_every_registered_method():
    from calibkit.calibrators._registry import method_choices

    out, _ = _fresh(
        """
        from calibkit.cli import main
        main(["fit", "--help"])
        """
    )
    assert "{" + ",".join(method_choices()) + "}" in out


def test_metrics_validate_their_parameters_on_the_first_call():
    # scikit-learn is imported by the first call, which still checks options.
    out, modules = _fresh(
        """
        import calibkit.metrics as m
        from calibkit._validation import InvalidParameterError
        print(m.log_loss([0, 1, 1], [0.25, 0.5, 0.75]))
        try:
            m.reliability_curve([0, 1], [0.25, 0.5], n_bins=0)
        except InvalidParameterError as exc:
            print(exc)
        """
    )
    loss, message = out.splitlines()
    expected = -(2 * __import__("math").log(0.75) + __import__("math").log(0.5)) / 3
    assert float(loss) == pytest.approx(expected, rel=1e-15)
    assert "'n_bins' parameter of reliability_curve must be an int in the range" in (
        message
    )
    assert "sklearn" in modules


def test_registry_imports_a_calibrator_on_first_lookup():
    from calibkit.calibrators._registry import CALIBRATORS

    out, modules = _fresh(
        """
        from calibkit.calibrators._registry import CALIBRATORS
        print(list(CALIBRATORS))
        print(CALIBRATORS["platt"].__name__)
        """
    )
    names, platt = out.splitlines()
    assert names == str(list(CALIBRATORS))
    assert platt == "PlattScaling"
    assert "calibkit.calibrators._platt" in modules
    assert "calibkit.calibrators._isotonic" not in modules


@pytest.mark.parametrize("package", PUBLIC_PACKAGES)
def test_every_public_name_resolves_in_a_fresh_interpreter(package):
    out, _ = _fresh(
        f"""
        import importlib, types
        module = importlib.import_module({package!r})
        assert module.__all__ == sorted(module.__all__), module.__all__
        missing = sorted(set(module.__all__) - set(dir(module)))
        assert not missing, missing
        # Names offered lazily (listed by dir(), not yet loaded) are public.
        lazy = set(dir(module)) - set(vars(module))
        for name in sorted(lazy - set(module.__all__)):
            value = getattr(module, name)
            assert isinstance(value, types.ModuleType), name  # a subpackage
        for name in dir(module):
            value = getattr(module, name)
            if name in module.__all__ and not isinstance(value, types.ModuleType):
                print(name, getattr(value, "__module__", None))
        """
    )
    module = importlib.import_module(package)
    resolved = dict(line.split(" ") for line in out.splitlines())
    for name, where in resolved.items():
        # The same object as in this process, defined where it says it is.
        value = getattr(module, name)
        assert getattr(value, "__module__", None) == (
            None if where == "None" else where
        )
        if where != "None":
            assert getattr(importlib.import_module(where), name) is value


def test_unknown_names_raise_attribute_error():
    import calibkit.metrics

    for module in (calibkit, calibkit.metrics):
        with pytest.raises(AttributeError, match=r"has no attribute 'nope'"):
            module.nope  # noqa: B018
        assert not hasattr(module, "nope")


def test_lazily_loaded_objects_pickle_by_reference():
    scores, labels = [-2.0, -1.0, -0.4, 0.3, 0.5, 1.0], [0, 0, 1, 0, 1, 1]
    fitted = calibkit.PlattScaling().fit(scores, labels)
    # Unpickled in a fresh interpreter, where calibkit loads lazily.
    out, _ = _fresh(
        f"""
        import pickle
        cal = pickle.loads({pickle.dumps(fitted)!r})
        print(type(cal).__module__, repr(float(cal.predict_proba([0.25])[0, 1])))
        """
    )
    module, p = out.split()
    assert module == "calibkit.calibrators._platt"
    assert float(p) == fitted.predict_proba([0.25])[0, 1]
    for obj in (calibkit.metrics.log_loss, calibkit.metrics.Decomposition):
        assert pickle.loads(pickle.dumps(obj)) is obj


def test_deprecated_names_still_forward_through_the_lazy_tables():
    out, _ = _fresh(
        """
        import warnings
        import calibkit.report
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            calibkit.report.metrics_table
            from calibkit.persistence import save
        import calibkit
        assert save is calibkit.save
        for w in caught:
            print(w.category.__name__, w.message)
        """
    )
    lines = out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("FutureWarning calibkit.report.metrics_table is")
    assert "no longer public" in lines[0]
    assert lines[1].startswith("FutureWarning calibkit.persistence.save is")
