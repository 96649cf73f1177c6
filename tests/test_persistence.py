"""Saving and loading calibrators: exact round trips and strict validation."""

import copy
import json
import math

import numpy as np
import pytest
from conftest import overlapping_data
from numpy.testing import assert_array_equal
from scipy.special import softmax
from sklearn.exceptions import NotFittedError

import calibkit as ck
from calibkit import _persistence as persistence
from calibkit import load_metadata
from calibkit.calibrators._registry import CALIBRATORS as REGISTRY
from calibkit.exceptions import NoFiniteOptimumWarning

CALIBRATORS = list(REGISTRY.values())


def strict_json(text):
    """Parse JSON refusing NaN and Infinity, as strict parsers do."""

    def refuse(name):
        raise AssertionError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def assert_same_state(a, b):
    """Every fitted attribute equal, with the same Python and numpy types."""
    fitted = sorted(k for k in vars(a) if k.endswith("_"))
    assert fitted == sorted(k for k in vars(b) if k.endswith("_"))
    for key in fitted:
        x, y = getattr(a, key), getattr(b, key)
        assert type(x) is type(y), key
        if isinstance(x, list):
            for u, v in zip(x, y, strict=True):
                assert u.dtype == v.dtype
                assert_array_equal(u.view(np.int64), v.view(np.int64))
        elif isinstance(x, np.ndarray):
            assert x.dtype == y.dtype, key
            assert_array_equal(x, y)
        else:
            assert x == y or (math.isnan(x) and math.isnan(y)), key


@pytest.mark.parametrize("cls", CALIBRATORS)
@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_save_load_predicts_bit_for_bit(tmp_path, cls, n_classes, dtype):
    X, y = overlapping_data(n_classes)
    X = X.astype(dtype)
    calibrator = cls().fit(X, y)
    path = tmp_path / "calibrator.json"
    ck.save(calibrator, path)
    loaded = ck.load(path)

    assert type(loaded) is cls
    assert loaded.get_params() == calibrator.get_params()
    assert_same_state(calibrator, loaded)
    X_new, _ = overlapping_data(n_classes, n=500, seed=1)
    for inputs in (X, X_new.astype(np.float32), X_new.astype(np.float64)):
        expected = calibrator.predict_proba(inputs)
        got = loaded.predict_proba(inputs)
        assert got.dtype == expected.dtype
        assert_array_equal(got, expected)
        assert_array_equal(loaded.predict(inputs), calibrator.predict(inputs))
    strict_json(path.read_text())


@pytest.mark.parametrize(
    ("cls", "params"),
    [
        (ck.PlattScaling, {"target_smoothing": True, "max_iter": 7}),
        (ck.PlattScaling, {"input": "probabilities"}),
        (ck.TemperatureScaling, {"input": "probabilities", "max_iter": 50}),
        (ck.IsotonicCalibration, {"interpolation": "step", "eps": 0.0125}),
        (ck.IsotonicCalibration, {"eps": 0, "input": "probabilities"}),
    ],
)
def test_round_trip_keeps_parameters(cls, params):
    logits, y = overlapping_data(3)
    X = softmax(logits, axis=1) if params.get("input") == "probabilities" else logits
    calibrator = cls(**params).fit(X, y)
    loaded = ck.from_dict(ck.to_dict(calibrator))
    assert loaded.get_params() == calibrator.get_params()
    assert_array_equal(loaded.predict_proba(X), calibrator.predict_proba(X))


@pytest.mark.parametrize(
    "labels",
    [
        np.array([3, -7, 12]),
        np.array([3, 7, 12], dtype=np.uint8),
        np.array([2.0, -1.0, 1e300]),
        np.array([2.0, -1.0, 7.0], dtype=np.float32),
        np.array(["cat", "dog", "émeu"]),
        np.array(["cat", "dog", "emu"], dtype=object),
        np.array([False, True]),
    ],
    ids=["int", "uint8", "float", "float32", "unicode", "object-str", "bool"],
)
def test_labels_keep_their_type(labels, tmp_path):
    X, codes = overlapping_data(len(labels))
    y = labels[codes]
    calibrator = ck.PlattScaling().fit(X, y)
    path = tmp_path / "labels.json"
    ck.save(calibrator, path)
    loaded = ck.load(path)
    assert loaded.classes_.dtype == calibrator.classes_.dtype
    assert_array_equal(loaded.classes_, calibrator.classes_)
    predicted, expected = loaded.predict(X), calibrator.predict(X)
    assert predicted.dtype == expected.dtype
    assert [type(v) for v in predicted.tolist()] == [type(v) for v in expected.tolist()]
    assert_array_equal(predicted, expected)


@pytest.mark.parametrize(
    "value",
    [
        0.1,
        1 / 3,
        -0.0,
        5e-324,
        2.2250738585072014e-308,
        1.7976931348623157e308,
        np.nextafter(1.0, 2.0),
        -123456.789e-200,
    ],
)
def test_floats_round_trip_exactly(value):
    """JSON through Python's repr keeps every bit, subnormals and -0.0 included."""
    X, y = overlapping_data(2)
    calibrator = ck.PlattScaling().fit(X, y)
    calibrator.coef_ = np.array([value])
    calibrator.intercept_ = np.array([-value])
    text = json.dumps(ck.to_dict(calibrator), allow_nan=False)
    loaded = ck.from_dict(strict_json(text))
    for attr in ("coef_", "intercept_"):
        original = getattr(calibrator, attr).view(np.int64)
        assert_array_equal(getattr(loaded, attr).view(np.int64), original)


@pytest.mark.parametrize(
    ("logits", "y", "expected"),
    [
        # Every row already ranks its class first: T -> 0.
        (np.array([[3.0, 0.0], [0.0, 2.0], [1.0, 0.5], [0.1, 4.0]]), [0, 1, 0, 1], 0.0),
        # The logits point away from the truth on average: T -> inf.
        (
            np.array([[3.0, 0.0], [0.0, 2.0], [1.0, 0.5], [0.1, 4.0]]),
            [1, 0, 1, 0],
            math.inf,
        ),
    ],
)
def test_degenerate_temperatures_are_strict_json(tmp_path, logits, y, expected):
    with pytest.warns(NoFiniteOptimumWarning):
        calibrator = ck.TemperatureScaling().fit(logits, y)
    if expected == 0.0:
        # A fit now falls back to smoothed targets (finite T); T = 0 stays a
        # valid state, e.g. in files written before that fallback.
        assert 0 < calibrator.temperature_ < math.inf
        calibrator.temperature_ = 0.0
    assert calibrator.temperature_ == expected
    path = tmp_path / "t.json"
    ck.save(calibrator, path)
    stored = strict_json(path.read_text())["state"]["temperature_"]
    assert stored == ("inf" if expected == math.inf else 0.0)
    loaded = ck.load(path)
    assert loaded.temperature_ == expected
    assert_array_equal(loaded.predict_proba(logits), calibrator.predict_proba(logits))


def test_document_layout_and_metadata(tmp_path):
    X, y = overlapping_data(2)
    calibrator = ck.IsotonicCalibration().fit(X, y)
    path = tmp_path / "iso.json"
    ck.save(calibrator, path, metadata={"columns": ["score"]})
    doc = strict_json(path.read_text())
    assert doc["format"] == "calibkit-calibrator"
    assert doc["schema_version"] == persistence.SCHEMA_VERSION
    assert doc["calibkit_version"] == ck.__version__
    assert doc["class"] == "IsotonicCalibration"
    assert doc["classes"] == {"dtype": calibrator.classes_.dtype.str, "values": [0, 1]}
    assert doc["state"]["eps_"] == calibrator.eps_
    assert load_metadata(path) == {"columns": ["score"]}
    assert ck.from_dict(doc).get_params() == calibrator.get_params()


# --- bad documents ---------------------------------------------------------------


@pytest.fixture(scope="module")
def documents():
    """Valid documents of each class (binary Platt, 3-class temperature, isotonic)."""
    X2, y2 = overlapping_data(2)
    X3, y3 = overlapping_data(3)
    return {
        "platt": ck.to_dict(ck.PlattScaling().fit(X2, y2)),
        "temperature": ck.to_dict(ck.TemperatureScaling().fit(X3, y3)),
        "isotonic": ck.to_dict(ck.IsotonicCalibration().fit(X2, y2)),
    }


def _set(path, value):
    def edit(doc):
        *parents, last = path
        for key in parents:
            doc = doc[key]
        if value is _DELETE:
            del doc[last]
        else:
            doc[last] = value

    return edit


_DELETE = object()

BAD_DOCUMENTS = [
    ("platt", _set(["format"], "pickle"), r"field 'format' must be 'calibkit-calibr"),
    ("platt", _set(["format"], _DELETE), r"not a saved calibkit calibrator"),
    ("platt", _set(["schema_version"], 2), r"'schema_version' is 2.*version 1 only"),
    ("platt", _set(["schema_version"], "1"), r"'schema_version' is '1'"),
    ("platt", _set(["class"], "os.system"), r"field 'class' is 'os.system'; known"),
    ("platt", _set(["class"], "CalibratedClassifier"), r"field 'class'"),
    ("platt", _set(["state"], _DELETE), r"missing field\(s\) 'state'"),
    ("platt", _set(["pickle"], "x"), r"unknown field\(s\) 'pickle'"),
    ("platt", _set(["calibkit_version"], 1), r"'calibkit_version' must be a string"),
    ("platt", _set(["metadata"], [1]), r"field 'metadata' must be an object"),
    ("platt", _set(["params"], None), r"field 'params' must be an object; got null"),
    ("platt", _set(["params", "max_iter"], _DELETE), r"missing.*'params.max_iter'"),
    ("platt", _set(["params", "extra"], 1), r"unknown field\(s\) 'params.extra'"),
    ("platt", _set(["params", "input"], "odds"), r"field 'params'.*input"),
    ("platt", _set(["params", "max_iter"], [3]), r"'params.max_iter' must be a str"),
    ("platt", _set(["state", "coef_"], _DELETE), r"missing field\(s\) 'state.coef_'"),
    ("platt", _set(["state", "coef_"], [1.0]), r"'state.coef_' must be an object"),
    ("platt", _set(["state", "coef_", "dtype"], "float16"), r"'state.coef_.dtype' m"),
    ("platt", _set(["state", "coef_", "values"], 1.0), r"'state.coef_.values' must"),
    ("platt", _set(["state", "coef_", "values"], [1.0, 2.0]), r"must have 1 entries"),
    ("platt", _set(["state", "coef_", "values"], ["1"]), r"coef_.values' entry 0 must"),
    (
        "platt",
        _set(["state", "coef_", "values"], [True]),
        r"coef_.values' entry 0 must",
    ),
    ("platt", _set(["state", "intercept_", "values"], [None]), r"intercept_.values' e"),
    ("platt", _set(["state", "n_iter_", "values"], [2.0]), r"n_iter_.values' entry 0"),
    ("platt", _set(["state", "n_iter_", "dtype"], "float64"), r"n_iter_.dtype' must"),
    (
        "platt",
        _set(["state", "coef_"], {"dtype": "float32", "values": [0.1]}),
        r"'state.coef_.values' is not exactly representable as float32",
    ),
    (
        "platt",
        _set(["state", "n_iter_"], {"dtype": "int32", "values": [2**40]}),
        r"'state.n_iter_.values' does not fit int32",
    ),
    ("platt", _set(["n_features_in"], 3), r"'n_features_in' must be one of \[1, 2\]"),
    ("platt", _set(["classes", "values"], [0]), r"'classes.values' must be a list of"),
    ("platt", _set(["classes", "values"], [1, 0]), r"'classes.values' must be sorted"),
    ("platt", _set(["classes", "values"], [0, 0]), r"'classes.values' must be sorted"),
    (
        "platt",
        _set(["classes", "values"], [0, "a"]),
        r"'classes.values' entry 1 is 'a'",
    ),
    ("platt", _set(["classes", "values"], [0, True]), r"'classes.values' entry 1 is T"),
    ("platt", _set(["classes", "dtype"], "<M8[ns]"), r"'classes.dtype' is '<M8\[ns\]'"),
    ("platt", _set(["classes", "dtype"], "no such"), r"'classes.dtype' is not a numpy"),
    ("platt", _set(["classes"], {"dtype": "|i1", "values": [0, 300]}), r"not fit"),
    ("platt", _set(["classes", "extra"], 1), r"unknown field\(s\) 'classes.extra'"),
    ("temperature", _set(["state", "temperature_"], -1.0), r"'state.temperature_' m"),
    ("temperature", _set(["state", "temperature_"], "nan"), r"'state.temperature_' m"),
    ("temperature", _set(["state", "temperature_"], None), r"'state.temperature_'"),
    ("temperature", _set(["state", "n_iter_"], -2), r"'state.n_iter_' must be >= 0"),
    ("temperature", _set(["n_features_in"], 1), r"'n_features_in' must be one of \[3"),
    ("isotonic", _set(["state", "eps_"], 0.5), r"'state.eps_' must be < 0.5"),
    ("isotonic", _set(["state", "X_thresholds_"], []), r"'state.X_thresholds_' must "),
    (
        "isotonic",
        _set(["state", "X_thresholds_"], [{"dtype": "float64", "values": [1.0]}]),
        r"differ in length for model 0",
    ),
    (
        "isotonic",
        _set(["state", "y_thresholds_"], [{"dtype": "float64", "values": []}]),
        r"'state.y_thresholds_.0.values' is empty",
    ),
]


@pytest.mark.parametrize(
    ("kind", "edit", "match"), BAD_DOCUMENTS, ids=[m for _, _, m in BAD_DOCUMENTS]
)
def test_invalid_documents_name_the_field(documents, kind, edit, match):
    doc = copy.deepcopy(documents[kind])
    edit(doc)
    with pytest.raises(ValueError, match=match):
        ck.from_dict(doc)


def test_isotonic_thresholds_checked(documents):
    doc = copy.deepcopy(documents["isotonic"])
    xs = doc["state"]["X_thresholds_"][0]["values"]
    doc["state"]["X_thresholds_"][0]["values"] = xs[::-1]
    with pytest.raises(ValueError, match=r"model 0 must be strictly increasing"):
        ck.from_dict(doc)
    doc = copy.deepcopy(documents["isotonic"])
    doc["state"]["y_thresholds_"][0]["values"][-1] = 1.5
    with pytest.raises(ValueError, match=r"must hold probabilities in \[0, 1\]"):
        ck.from_dict(doc)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{", r"invalid JSON"),
        ("[1, 2]", r"the JSON is not an object"),
        ('{"a": NaN}', r"NaN is not valid in strict JSON"),
        ('{"a": Infinity}', r"Infinity is not valid in strict JSON"),
        ('{"a": 1, "a": 2}', r"duplicate key\(s\) \['a'\]"),
        ('{"format": "calibkit-calibrator"}', r"'schema_version' is None"),
    ],
)
def test_invalid_files(tmp_path, text, match):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=match) as info:
        ck.load(path)
    assert str(path) in str(info.value)


def test_non_finite_number_in_file_names_the_field(tmp_path, documents):
    doc = copy.deepcopy(documents["platt"])
    doc["state"]["coef_"]["values"] = ["overflow"]
    text = json.dumps(doc).replace('"overflow"', "1e999")
    path = tmp_path / "overflow.json"
    path.write_text(text)
    with pytest.raises(
        ValueError, match=r"'state.coef_.values' entry 0 must be finite"
    ):
        ck.load(path)


def test_load_errors_for_missing_and_binary_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        ck.load(tmp_path / "missing.json")
    path = tmp_path / "binary.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValueError, match=r"not UTF-8 text"):
        ck.load(path)


def test_save_refuses_what_it_cannot_store(tmp_path):
    X, y = overlapping_data(2)
    with pytest.raises(NotFittedError):
        ck.save(ck.PlattScaling(), tmp_path / "a.json")
    with pytest.raises(TypeError, match=r"calibrator must be one of .*PlattScaling"):
        ck.save(ck.CalibratedClassifier(), tmp_path / "a.json")

    class MyPlatt(ck.PlattScaling):
        pass

    with pytest.raises(TypeError, match=r"got MyPlatt"):
        ck.to_dict(MyPlatt().fit(X, y))
    mixed = ck.PlattScaling().fit(X, np.array([0, 1], dtype=object)[y])
    with pytest.raises(TypeError, match=r"only strings can be saved"):
        ck.to_dict(mixed)
    with pytest.raises(TypeError, match=r"metadata must be a dict"):
        ck.to_dict(ck.PlattScaling().fit(X, y), metadata=["x"])
    assert list(tmp_path.iterdir()) == []


def test_failed_save_keeps_existing_file(tmp_path):
    path = tmp_path / "calibrator.json"
    path.write_text("previous")
    with pytest.raises(NotFittedError):
        ck.save(ck.IsotonicCalibration(), path)
    assert path.read_text() == "previous"
    assert list(tmp_path.iterdir()) == [path]


# --- issue 10: a calibrator file is data from anywhere --------------------------------


def _doc(cls, **params):
    X, y = overlapping_data(2)
    return ck.to_dict(cls(**params).fit(X, y))


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (
            lambda d: d["classes"].update(dtype="<U10000000", values=["a", "b"]),
            r"declares strings of 10000000 characters, but the longest label has 1",
        ),
        (
            lambda d: d["state"].update(temperature_=1e-320),
            r"below the smallest normal double",
        ),
        (
            lambda d: d["state"].update(n_iter_=10**400),
            r"must fit in 64 bits; got 1000000000.*\(401 characters\)",
        ),
    ],
)
def test_absurd_values_are_refused(edit, match):
    doc = _doc(ck.TemperatureScaling)
    edit(doc)
    with pytest.raises(ValueError, match=match):
        ck.from_dict(doc)


def test_isotonic_state_must_agree_with_its_parameters():
    doc = _doc(ck.IsotonicCalibration)
    y = doc["state"]["y_thresholds_"][0]["values"]
    decreasing = copy.deepcopy(doc)
    decreasing["state"]["y_thresholds_"][0]["values"] = y[::-1]
    with pytest.raises(ValueError, match=r"model 0 decreases"):
        ck.from_dict(decreasing)
    step = copy.deepcopy(doc)
    step["params"]["interpolation"] = "step"
    with pytest.raises(ValueError, match=r"layout of interpolation='step'"):
        ck.from_dict(step)
    eps = copy.deepcopy(doc)
    eps["params"]["eps"] = 0.1
    with pytest.raises(ValueError, match=r"eps_.* but the parameter eps is 0.1"):
        ck.from_dict(eps)


def test_file_limits(tmp_path, monkeypatch):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match=r"nested too deeply"):
        ck.load(path)
    monkeypatch.setattr(persistence, "MAX_FILE_BYTES", 100)
    path.write_text(" " * 101)
    with pytest.raises(ValueError, match=r"larger than 100 bytes"):
        ck.load(path)


def test_feature_names_round_trip_and_one_read(tmp_path, monkeypatch):
    import pandas as pd

    X, y = overlapping_data(3)
    frame = pd.DataFrame(X, columns=["p_a", "p_b", "p_c"])
    cal = ck.TemperatureScaling().fit(frame, y)
    assert cal.feature_names_in_.tolist() == ["p_a", "p_b", "p_c"]
    ck.save(cal, tmp_path / "c.json", metadata={"k": 1})
    reads = []
    original = persistence._read_document
    monkeypatch.setattr(
        persistence, "_read_document", lambda p: reads.append(p) or original(p)
    )
    loaded, metadata = ck.load_with_metadata(tmp_path / "c.json")
    assert len(reads) == 1
    assert metadata == {"k": 1}
    assert loaded.feature_names_in_.tolist() == ["p_a", "p_b", "p_c"]
    with pytest.raises(ValueError, match=r"the same columns in another order"):
        loaded.predict_proba(frame[["p_c", "p_b", "p_a"]])
    assert_array_equal(loaded.predict_proba(frame), cal.predict_proba(frame))


# --- files in the 0.1 format, written by hand from the format description ----------

#: Binary Platt scaling on logits, integer labels; saved before zero_proba_ and
#: one_proba_ existed (they load as None).
PLATT_0_1 = """{
  "format": "calibkit-calibrator",
  "schema_version": 1,
  "calibkit_version": "0.1.0",
  "class": "PlattScaling",
  "params": {
    "input": "logits",
    "max_iter": 100,
    "target_smoothing": false
  },
  "n_features_in": 1,
  "classes": {
    "dtype": "<i8",
    "values": [
      0,
      1
    ]
  },
  "state": {
    "coef_": {
      "dtype": "float64",
      "values": [
        1.25
      ]
    },
    "intercept_": {
      "dtype": "float64",
      "values": [
        -0.5
      ]
    },
    "n_iter_": {
      "dtype": "int64",
      "values": [
        6
      ]
    }
  },
  "metadata": {}
}
"""

#: Three-class Platt scaling on probabilities, float32 state, float labels,
#: column names, and the probabilities given to exact 0 and 1 inputs.
PLATT_PROBABILITIES_0_1 = """{
  "format": "calibkit-calibrator",
  "schema_version": 1,
  "calibkit_version": "0.1.0",
  "class": "PlattScaling",
  "params": {
    "input": "probabilities",
    "max_iter": 50,
    "target_smoothing": true
  },
  "n_features_in": 3,
  "classes": {
    "dtype": "<f8",
    "values": [
      0.5,
      1.5,
      2.5
    ]
  },
  "state": {
    "coef_": {
      "dtype": "float32",
      "values": [
        1.0,
        0.75,
        2.0
      ]
    },
    "intercept_": {
      "dtype": "float32",
      "values": [
        0.0,
        -0.25,
        0.125
      ]
    },
    "n_iter_": {
      "dtype": "int32",
      "values": [
        4,
        5,
        7
      ]
    },
    "zero_proba_": {
      "dtype": "float32",
      "values": [
        0.125,
        0.0625,
        0.25
      ]
    },
    "one_proba_": {
      "dtype": "float32",
      "values": [
        0.875,
        0.75,
        0.5
      ]
    }
  },
  "feature_names_in": [
    "p_low",
    "p_mid",
    "p_high"
  ]
}
"""

#: Three-class temperature scaling, string labels, metadata as the CLI writes.
TEMPERATURE_0_1 = """{
  "format": "calibkit-calibrator",
  "schema_version": 1,
  "calibkit_version": "0.1.0",
  "class": "TemperatureScaling",
  "params": {
    "input": "logits",
    "max_iter": 100,
    "target_smoothing": false
  },
  "n_features_in": 3,
  "classes": {
    "dtype": "<U5",
    "values": [
      "cat",
      "dog",
      "horse"
    ]
  },
  "state": {
    "temperature_": 2.5,
    "n_iter_": 7
  },
  "metadata": {
    "columns": [
      "cat",
      "dog",
      "horse"
    ],
    "label": "y",
    "method": "temperature"
  }
}
"""

#: Binary temperature scaling with no finite optimum (temperature "inf"),
#: boolean labels, with the state of input="probabilities".
TEMPERATURE_INF_0_1 = """{
  "format": "calibkit-calibrator",
  "schema_version": 1,
  "calibkit_version": "0.1.0",
  "class": "TemperatureScaling",
  "params": {
    "input": "probabilities",
    "max_iter": 100,
    "target_smoothing": false
  },
  "n_features_in": 1,
  "classes": {
    "dtype": "|b1",
    "values": [
      false,
      true
    ]
  },
  "state": {
    "temperature_": "inf",
    "n_iter_": 3,
    "zero_logit_": -40.0,
    "log_floor_": -745.0
  }
}
"""

#: Binary isotonic calibration with step interpolation and no clipping.
ISOTONIC_0_1 = """{
  "format": "calibkit-calibrator",
  "schema_version": 1,
  "calibkit_version": "0.1.0",
  "class": "IsotonicCalibration",
  "params": {
    "eps": 0.0,
    "input": "logits",
    "interpolation": "step"
  },
  "n_features_in": 1,
  "classes": {
    "dtype": "<i8",
    "values": [
      0,
      1
    ]
  },
  "state": {
    "X_thresholds_": [
      {
        "dtype": "float64",
        "values": [
          -1.0,
          0.5,
          2.0
        ]
      }
    ],
    "y_thresholds_": [
      {
        "dtype": "float64",
        "values": [
          0.0,
          0.5,
          1.0
        ]
      }
    ],
    "eps_": 0.0
  }
}
"""

FILES_0_1 = {
    "platt": PLATT_0_1,
    "platt_probabilities": PLATT_PROBABILITIES_0_1,
    "temperature": TEMPERATURE_0_1,
    "temperature_inf": TEMPERATURE_INF_0_1,
    "isotonic": ISOTONIC_0_1,
}


@pytest.mark.parametrize("name", FILES_0_1)
def test_0_1_files_load_and_save_back_byte_for_byte(tmp_path, name):
    """Saving a loaded 0.1 file writes it again, byte for byte (except the
    version that wrote it): the writer's layout is the 0.1 layout."""
    path = tmp_path / f"{name}.json"
    path.write_text(FILES_0_1[name], encoding="utf-8")
    calibrator, metadata = ck.load_with_metadata(path)
    again = tmp_path / "again.json"
    # A file without "metadata" has none, one with {} has an empty one.
    written = "metadata" in json.loads(FILES_0_1[name])
    ck.save(calibrator, again, metadata=metadata if written else None)
    expected = FILES_0_1[name].replace('"0.1.0"', json.dumps(ck.__version__))
    assert again.read_text(encoding="utf-8") == expected


def _file(tmp_path, text):
    path = tmp_path / "calibrator.json"
    path.write_text(text, encoding="utf-8")
    return ck.load(path)


def test_0_1_platt(tmp_path):
    cal = _file(tmp_path, PLATT_0_1)
    assert type(cal) is ck.PlattScaling
    assert cal.get_params() == ck.PlattScaling().get_params()
    assert_array_equal(cal.classes_, [0, 1])
    assert cal.coef_.tolist() == [1.25]
    assert cal.intercept_.tolist() == [-0.5]
    assert cal.n_iter_.dtype == np.int64
    assert cal.zero_proba_ is None
    assert cal.one_proba_ is None
    s = np.array([-3.0, 0.0, 0.5, 7.5])
    expected = 1 / (1 + np.exp(-(1.25 * s - 0.5)))
    np.testing.assert_allclose(cal.predict_proba(s)[:, 1], expected, rtol=1e-15)
    assert cal.predict(s).tolist() == [0, 0, 1, 1]


def test_0_1_platt_probabilities(tmp_path):
    cal = _file(tmp_path, PLATT_PROBABILITIES_0_1)
    assert cal.get_params() == {
        "input": "probabilities",
        "max_iter": 50,
        "target_smoothing": True,
    }
    assert cal.classes_.tolist() == [0.5, 1.5, 2.5]
    assert cal.classes_.dtype == np.float64
    assert cal.feature_names_in_.tolist() == ["p_low", "p_mid", "p_high"]
    for key in ("coef_", "intercept_", "zero_proba_", "one_proba_"):
        assert getattr(cal, key).dtype == np.float32, key
    assert cal.n_iter_.dtype == np.int32
    assert cal.zero_proba_.tolist() == [0.125, 0.0625, 0.25]
    assert cal.one_proba_.tolist() == [0.875, 0.75, 0.5]
    proba = cal.predict_proba(np.array([[0.2, 0.3, 0.5], [0.0, 0.0, 1.0]]))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


def test_0_1_temperature(tmp_path):
    cal = _file(tmp_path, TEMPERATURE_0_1)
    assert type(cal) is ck.TemperatureScaling
    assert cal.classes_.tolist() == ["cat", "dog", "horse"]
    assert cal.classes_.dtype == np.dtype("<U5")
    assert type(cal.temperature_) is float
    assert cal.temperature_ == 2.5
    assert type(cal.n_iter_) is int
    assert cal.n_iter_ == 7
    assert cal.zero_logit_ is None
    assert cal.log_floor_ is None
    assert load_metadata(tmp_path / "calibrator.json")["method"] == "temperature"
    z = np.array([[1.0, 2.0, 3.0], [10.0, -5.0, 0.0]])
    np.testing.assert_allclose(cal.predict_proba(z), softmax(z / 2.5, axis=1))
    assert cal.predict(z).tolist() == ["horse", "cat"]


def test_0_1_temperature_without_finite_optimum(tmp_path):
    cal = _file(tmp_path, TEMPERATURE_INF_0_1)
    assert cal.temperature_ == math.inf
    assert cal.classes_.tolist() == [False, True]
    assert cal.zero_logit_ == -40.0
    assert cal.log_floor_ == -745.0
    # An infinite temperature forgets the input: both classes get 1/2.
    assert_array_equal(cal.predict_proba([0.1, 0.9]), np.full((2, 2), 0.5))


def test_0_1_isotonic(tmp_path):
    cal = _file(tmp_path, ISOTONIC_0_1)
    assert cal.get_params() == {"eps": 0.0, "input": "logits", "interpolation": "step"}
    assert cal.eps_ == 0.0
    assert [x.tolist() for x in cal.X_thresholds_] == [[-1.0, 0.5, 2.0]]
    assert [y.tolist() for y in cal.y_thresholds_] == [[0.0, 0.5, 1.0]]
    # Steps at the knots, clipped outside them.
    s = [-5.0, -1.0, 0.0, 0.5, 1.0, 2.0, 5.0]
    assert cal.predict_proba(s)[:, 1].tolist() == [0.0, 0.0, 0.0, 0.5, 0.5, 1.0, 1.0]
