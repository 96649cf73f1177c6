"""The package layout: what is public, and the deprecated 0.1 module paths."""

import importlib
import pkgutil

import pytest

import calibkit

#: Modules a user imports from; everything else is private (``_name``) or a
#: deprecated 0.1 alias.
PUBLIC = {
    "calibkit",
    "calibkit.calibrators",
    "calibkit.cli",
    "calibkit.exceptions",
    "calibkit.io",
    "calibkit.metrics",
    "calibkit.plotting",
    "calibkit.report",
}

#: 0.1 module path -> where its public names live now.
MOVED = {
    "calibkit.persistence": "calibkit",
    "calibkit.scorers": "calibkit.metrics",
    "calibkit.calibrators.platt": "calibkit",
    "calibkit.calibrators.temperature": "calibkit",
    "calibkit.calibrators.isotonic": "calibkit",
    "calibkit.calibrators.classifier": "calibkit",
    "calibkit.metrics.scores": "calibkit.metrics",
    "calibkit.metrics.reliability": "calibkit.metrics",
    "calibkit.metrics.decomposition": "calibkit.metrics",
    "calibkit.metrics.information": "calibkit.metrics",
    "calibkit.metrics.goodness_of_fit": "calibkit.metrics",
}


def _module_names():
    names = {"calibkit"}
    for info in pkgutil.walk_packages(calibkit.__path__, "calibkit."):
        names.add(info.name)
    return names


def test_every_module_is_public_private_or_a_deprecated_alias():
    unexpected = {
        name
        for name in _module_names()
        if not any(part.startswith("_") for part in name.split("."))
        and name not in PUBLIC
        and name not in MOVED
    }
    assert not unexpected, f"new public modules: {sorted(unexpected)}"


@pytest.mark.parametrize("module_name", sorted(PUBLIC - {"calibkit.cli"}))
def test_public_names_exist_and_are_documented(module_name):
    module = importlib.import_module(module_name)
    assert module.__all__ == sorted(module.__all__, key=str)
    for name in module.__all__:
        obj = getattr(module, name)
        if callable(obj):
            assert (obj.__doc__ or "").strip(), f"{module_name}.{name} has no docstring"


@pytest.mark.parametrize(("old", "new"), sorted(MOVED.items()))
def test_old_paths_warn_and_forward(old, new):
    module = importlib.import_module(old)
    public = importlib.import_module(new)
    name = next(
        n
        for n in public.__all__
        if not n.startswith("_")
        and getattr(public, n).__module__.startswith("calibkit")
        and old.rsplit(".", 1)[1].lstrip("_") in getattr(public, n).__module__
    )
    with pytest.warns(FutureWarning, match=rf"{old}\.{name} is deprecated.*{new}"):
        obj = getattr(module, name)
    assert obj is getattr(public, name)


def test_old_paths_do_not_invent_names():
    module = importlib.import_module("calibkit.metrics.scores")
    with pytest.raises(AttributeError, match="has no attribute 'no_such_metric'"):
        module.no_such_metric  # noqa: B018


def test_names_made_private_still_resolve_with_a_warning():
    from calibkit import _persistence

    module = importlib.import_module("calibkit.persistence")
    with pytest.warns(FutureWarning, match="SCHEMA_VERSION .*no longer public"):
        assert module.SCHEMA_VERSION == _persistence.SCHEMA_VERSION


def test_cli_is_one_private_module_per_subcommand():
    import calibkit.cli
    from calibkit.cli import _parser

    modules = {info.name for info in pkgutil.iter_modules(calibkit.cli.__path__)}
    assert all(name.startswith("_") for name in modules), modules
    assert calibkit.cli.__all__ == ["build_parser", "main"]
    names = [module.__name__.rsplit(".", 1)[1] for module in _parser.SUBCOMMANDS]
    assert names == ["_demo", "_fit", "_apply", "_evaluate"]
    parser = calibkit.cli.build_parser()
    (subparsers,) = [a for a in parser._actions if a.choices and a.dest != "help"]
    assert list(subparsers.choices) == ["demo", "fit", "apply", "evaluate"]
    for module, name in zip(_parser.SUBCOMMANDS, subparsers.choices, strict=True):
        assert subparsers.choices[name].get_default("run") is module.run


def test_io_is_split_into_private_modules():
    import calibkit.io

    modules = {info.name for info in pkgutil.iter_modules(calibkit.io.__path__)}
    assert modules == {"_columns", "_formats", "_read", "_write"}
