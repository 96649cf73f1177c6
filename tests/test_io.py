"""Reading and writing prediction tables: formats, exact values, checks, atomicity."""

import io
import os
import sys

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal

from calibkit import io as ckio
from calibkit.io import _read as io_read
from calibkit.io import _write as io_write

TRICKY = np.array([0.1, 1 / 3, -0.0, 5e-324, 1.7976931348623157e308, -2.5e-17])


def sample_frame():
    return pd.DataFrame(
        {
            "score": TRICKY,
            "count": np.arange(6, dtype=np.int64),
            "label": ["cat", "dog", "cat", "émeu", "dog", "cat"],
            "flag": [True, False, True, True, False, False],
        }
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.csv", "csv"),
        ("A.CSV", "csv"),
        ("dir.v2/a.parquet", "parquet"),
        ("x.npy", "npy"),
        ("x.npz", "npz"),
        ("-", "csv"),
    ],
)
def test_detect_format(name, expected):
    assert ckio.detect_format(name) == expected


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("scores.txt", r"unknown file format for 'scores.txt' \(extension '.txt'\)"),
        ("scores", r"\(no extension\); use one of .csv, .parquet, .npy, .npz"),
        ("scores.csv.gz", r"extension '.gz'"),
    ],
)
def test_unknown_formats_are_refused(name, match):
    with pytest.raises(ValueError, match=match):
        ckio.detect_format(name)


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".npy", ".npz"])
def test_write_then_read_is_exact(tmp_path, suffix):
    frame = sample_frame()
    path = tmp_path / f"table{suffix}"
    ckio.write_table(frame, path)
    back = ckio.read_table(path)
    assert list(back.columns) == list(frame.columns)
    # Bit-for-bit equal doubles, -0.0 and the subnormal included.
    assert_array_equal(back["score"].to_numpy().view(np.int64), TRICKY.view(np.int64))
    assert_array_equal(back["count"].to_numpy(), frame["count"].to_numpy())
    assert back["label"].tolist() == frame["label"].tolist()
    assert back["flag"].tolist() == frame["flag"].tolist()
    assert back.attrs == {"source": str(path), "format": suffix[1:]}
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_float32_columns_stay_float32(tmp_path):
    values = np.array([0.1, 0.2, 0.7], dtype=np.float32)
    path = tmp_path / "f32.npz"
    np.savez(path, p=values, y=np.array([0, 1, 1]))
    frame = ckio.read_table(path)
    scores = ckio.score_array(frame, ["p"])
    assert scores.dtype == np.float32
    assert_array_equal(scores, values)


def test_numpy_layouts(tmp_path):
    plain = np.arange(12.0).reshape(4, 3)
    np.save(tmp_path / "plain.npy", plain)
    frame = ckio.read_table(tmp_path / "plain.npy")
    assert list(frame.columns) == ["0", "1", "2"]
    assert_array_equal(frame.to_numpy(), plain)

    np.save(tmp_path / "one.npy", plain[:, 0])
    assert list(ckio.read_table(tmp_path / "one.npy").columns) == ["0"]

    structured = np.zeros(4, dtype=[("y", "<U3"), ("logit", "<f8", (2,))])
    structured["y"] = ["a", "b", "a", "b"]
    structured["logit"] = plain[:, :2]
    np.save(tmp_path / "rec.npy", structured)
    frame = ckio.read_table(tmp_path / "rec.npy")
    assert list(frame.columns) == ["y", "logit_0", "logit_1"]
    assert_array_equal(frame["logit_1"].to_numpy(), plain[:, 1])

    np.savez(tmp_path / "arch.npz", y=np.array([0, 1, 1, 0]), logits=plain)
    frame = ckio.read_table(tmp_path / "arch.npz")
    assert list(frame.columns) == ["y", "logits_0", "logits_1", "logits_2"]
    assert_array_equal(frame[["logits_0", "logits_1", "logits_2"]].to_numpy(), plain)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda p: np.save(p, np.zeros((2, 2, 2))), r"shape \(2, 2, 2\); a 1-D or 2-D"),
        (
            lambda p: np.save(p, np.array([{"a": 1}], dtype=object), allow_pickle=True),
            r"holds Python objects, which calibkit does not load",
        ),
        (lambda p: p.write_bytes(b"not numpy"), r"is not a readable numpy file"),
        (lambda p: p.write_bytes(b""), r"is not a readable numpy file"),
    ],
)
def test_bad_npy_files(tmp_path, make, match):
    path = tmp_path / "bad.npy"
    make(path)
    with pytest.raises(ValueError, match=match):
        ckio.read_table(path)


def test_npz_arrays_must_have_equal_lengths(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, y=np.zeros(3), p=np.zeros(4))
    with pytest.raises(ValueError, match=r"different numbers of rows \(y: 3, p: 4\)"):
        ckio.read_table(path)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", r"is empty; a CSV file needs a header line"),
        ("a,b\n", r"holds no rows"),
        ('a,b\n1,"2\n', r"is not a readable CSV file"),
    ],
)
def test_bad_csv_files(tmp_path, text, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        ckio.read_table(path)


def test_missing_input_and_directories(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"input file '.*nope.csv' does not"):
        ckio.read_table(tmp_path / "nope.csv")
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(ValueError, match=r"is not a file"):
        ckio.read_table(tmp_path / "dir.csv")


def test_parquet_without_pyarrow_says_how_to_install(tmp_path, monkeypatch):
    path = tmp_path / "t.parquet"
    ckio.write_table(sample_frame(), path)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(ImportError, match=r"pip install pyarrow"):
        ckio.read_table(path)
    path.write_text("previous")
    with pytest.raises(ImportError, match=r"Parquet files need pyarrow"):
        ckio.write_table(sample_frame(), path)
    assert path.read_text() == "previous"


# --- cells and columns ----------------------------------------------------------------


def csv_frame(tmp_path, text):
    path = tmp_path / "in.csv"
    path.write_text(text)
    return ckio.read_table(path)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            "y,s\n0,0.5\n1,0.25\n0,abc\n1,x\n",
            r"column 's' of '.*in.csv' has a value that is not a number, 'abc', at "
            r"row 2 \(line 4 of the file\) \(2 such cells\)",
        ),
        (
            "y,s\n0,0.5\n1,\n0,0.1\n",
            r"column 's' .* missing \(empty or NaN\) value at "
            r"row 1 \(line 3",
        ),
        ("y,s\n0,0.5\n1,NaN\n", r"missing \(empty or NaN\) value at row 1"),
        ("y,s\n0,0.5\n1,0.2\n1,-inf\n", r"infinite value at row 2 \(line 4.*1 non-fin"),
        ("y,s\n0,True\n1,False\n", r"column 's' of .* holds booleans, not scores"),
        ("y,t\n0,1\n", r"prediction column 's' not found in .*; columns are 'y', 't'"),
    ],
)
def test_score_cells_are_checked_with_rows(tmp_path, text, match):
    frame = csv_frame(tmp_path, text)
    with pytest.raises(ValueError, match=match):
        ckio.score_array(frame, ["s"])


def test_score_array_shapes_and_types(tmp_path):
    frame = csv_frame(tmp_path, "y,a,b\n0,1,0.5\n1,2,0.25\n")
    one = ckio.score_array(frame, ["a"])
    assert one.dtype == np.float64
    assert_array_equal(one, [1.0, 2.0])
    assert_array_equal(ckio.score_array(frame, ["b", "a"]), [[0.5, 1.0], [0.25, 2.0]])


def test_numbers_written_as_strings_are_read_back_in_npz(tmp_path):
    path = tmp_path / "s.npz"
    np.savez(path, s=np.array(["0.5", "oops"]))
    frame = ckio.read_table(path)
    with pytest.raises(ValueError, match=r"'oops', at row 1 \("):
        ckio.score_array(frame, ["s"])


@pytest.mark.parametrize(
    ("text", "expected", "dtype_kind"),
    [
        ("y\n1\n0\n2\n", [1, 0, 2], "i"),
        ("y\n1.0\n0.0\n", [1, 0], "i"),
        ("y\n1.5\n0.0\n", [1.5, 0.0], "f"),
        ("y\ncat\ndog\n", ["cat", "dog"], "O"),
        ("y\nTrue\nFalse\n", [True, False], "b"),
    ],
)
def test_labels(tmp_path, text, expected, dtype_kind):
    labels = ckio.label_array(csv_frame(tmp_path, text), "y")
    assert labels.dtype.kind == dtype_kind
    assert labels.tolist() == expected
    assert [type(v) for v in labels.tolist()] == [type(v) for v in expected]


def test_missing_labels_are_reported_with_row(tmp_path):
    frame = csv_frame(tmp_path, "y,s\ncat,1\n,2\ndog,3\n")
    with pytest.raises(
        ValueError,
        match=r"label column 'y' .* missing value at row 1 "
        r"\(line 3 of the file\) \(1 missing labels\)",
    ):
        ckio.label_array(frame, "y")
    with pytest.raises(ValueError, match=r"label column 'label' not found"):
        ckio.label_array(frame, "label")


def test_select_columns(tmp_path):
    frame = csv_frame(tmp_path, "id,y,logit_a,logit_b,w\n1,0,0.1,0.2,1\n")
    assert ckio.select_columns(frame, prefix="logit_") == ["logit_a", "logit_b"]
    assert ckio.select_columns(frame, columns=["logit_b", "id"]) == ["logit_b", "id"]
    assert ckio.select_columns(frame, exclude=["y", "w"]) == [
        "id",
        "logit_a",
        "logit_b",
    ]
    with pytest.raises(ValueError, match=r"either the columns or a column prefix"):
        ckio.select_columns(frame, columns=["id"], prefix="logit_")
    with pytest.raises(ValueError, match=r"no column of .* starts with 'p_'; columns"):
        ckio.select_columns(frame, prefix="p_")
    with pytest.raises(ValueError, match=r"prediction column 'nope' not found"):
        ckio.select_columns(frame, columns=["nope"])
    with pytest.raises(ValueError, match=r"has no prediction columns besides"):
        ckio.select_columns(frame, exclude=frame.columns)


# --- writing ------------------------------------------------------------------------


def test_atomic_output_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("old")

    def interrupted_write():
        with ckio.atomic_output(path) as tmp:
            tmp.write_text("half written")
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        interrupted_write()
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_atomic_output_file_modes(tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    target = tmp_path / "new.txt"
    with ckio.atomic_output(target) as tmp:
        tmp.write_text("y")
    # Same permissions as a file created the ordinary way (umask applied).
    assert (target.stat().st_mode & 0o777) == (plain.stat().st_mode & 0o777)
    os.chmod(target, 0o640)
    with ckio.atomic_output(target) as tmp:
        tmp.write_text("z")
    assert target.stat().st_mode & 0o777 == 0o640
    assert target.read_text() == "z"


def test_atomic_output_refuses_missing_directory_and_directories(tmp_path):
    missing = ckio.atomic_output(tmp_path / "nope" / "x.csv")
    with pytest.raises(FileNotFoundError, match=r"output directory '.*nope' does not"):
        missing.__enter__()
    with pytest.raises(ValueError, match=r"is a directory"):
        ckio.atomic_output(tmp_path).__enter__()


@pytest.mark.parametrize("suffix", [".csv", ".npy", ".npz", ".parquet"])
def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch, suffix):
    path = tmp_path / f"out{suffix}"
    path.write_bytes(b"previous")

    class WriteFailedError(RuntimeError):
        pass

    def fail(*args, **kwargs):
        raise WriteFailedError

    import pyarrow.parquet as pq

    monkeypatch.setattr(pd.DataFrame, "to_csv", fail)
    monkeypatch.setattr(np, "save", fail)
    monkeypatch.setattr(np, "savez", fail)
    monkeypatch.setattr(pq, "write_table", fail)
    with pytest.raises(WriteFailedError):
        ckio.write_table(sample_frame(), path)
    assert path.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_stdin_and_stdout(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("y,s\n0,0.25\n1,0.5\n"))
    frame = ckio.read_table("-")
    assert frame.attrs == {"source": "-", "format": "csv"}
    assert_array_equal(ckio.score_array(frame, ["s"]), [0.25, 0.5])
    ckio.write_table(frame, "-")
    assert capsys.readouterr().out.splitlines() == ["y,s", "0,0.25", "1,0.5"]


def test_progress_callbacks(tmp_path, monkeypatch):
    monkeypatch.setattr(io_write, "_CSV_WRITE_ROWS", 7)
    frame = pd.DataFrame({"y": np.arange(50) % 2, "s": np.linspace(0, 1, 50)})
    written = []
    ckio.write_table(frame, tmp_path / "p.csv", progress=written.append)
    assert written == sorted(written)
    assert written[-1] == 1.0
    assert len(written) == 8
    read = []
    back = ckio.read_table(tmp_path / "p.csv", progress=read.append)
    assert read
    assert read[-1] == 1.0
    assert read == sorted(read)
    assert_array_equal(back.to_numpy(), frame.to_numpy())


# --- issue 10: labels as text, sizes checked, outputs --------------------------------


def test_csv_label_text_typing(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("y,s\n01,1\n1,2\nNA,3\n")
    frame = ckio.read_table(path, text_columns=["y"])
    assert ckio.label_array(frame, "y").tolist() == ["01", "1", "NA"]
    path.write_text("y,s\n1,1\n-2,2\n0,3\n")
    labels = ckio.label_array(ckio.read_table(path, text_columns=["y"]), "y")
    assert labels.dtype == np.int64
    assert labels.tolist() == [1, -2, 0]
    path.write_text("y,s\n1.0,1\n0.0,2\n")
    labels = ckio.label_array(ckio.read_table(path, text_columns=["y"]), "y")
    assert labels.tolist() == ["1.0", "0.0"]


def test_zip_bomb_is_refused_before_decompressing(tmp_path, monkeypatch):
    monkeypatch.setattr(io_read, "MAX_NPZ_BYTES", 2**20)
    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, s=np.zeros(2**20))
    with pytest.raises(ValueError, match=r"unpacks to \d+ bytes, more than 100 times"):
        ckio.read_table(path)


def test_npz_member_header_claiming_more_than_it_holds(tmp_path):
    import zipfile

    path = tmp_path / "lie.npz"
    with zipfile.ZipFile(path, "w") as archive, archive.open("s.npy", "w") as member:
        header = {"descr": "<f8", "fortran_order": False, "shape": (10**11,)}
        np.lib.format.write_array_header_1_0(member, header)
        member.write(np.zeros(3).tobytes())
    with pytest.raises(ValueError, match=r"header claims an array of shape"):
        ckio.read_table(path)


def test_match_columns_rules():
    y = np.array([2, 0, 1, 0], dtype=np.int64)
    classes, ordered = ckio.match_columns(["p_2", "p_0", "p_1"], y=y)
    assert classes.tolist() == [0, 1, 2]
    assert ordered == ["p_0", "p_1", "p_2"]
    # A column may name a class absent from the labels.
    classes, ordered = ckio.match_columns(["p_3", "p_1", "p_0", "p_2"], y=y)
    assert classes.tolist() == [0, 1, 2, 3]
    # Leading zeros never name an integer label.
    with pytest.raises(ValueError, match=r"some prediction columns are named"):
        ckio.match_columns(["p_00", "p_1", "p_2"], y=y)
    with pytest.raises(ValueError, match=r"do not say which class"):
        ckio.match_columns(["a", "b", "c"], y=y)
    assert ckio.match_columns(["a", "b", "c"], y=y, explicit=True)[1] == ["a", "b", "c"]
    # Positional names of a plain 2-D array never identify classes.
    assert ckio.match_columns(
        ["2", "1", "0"], y=y, explicit=True, positional_names=True
    )[1] == ["2", "1", "0"]


def test_output_keeps_symlink_and_cleans_stale_temporaries(tmp_path):
    target = tmp_path / "t.txt"
    target.write_text("old")
    link = tmp_path / "l.txt"
    link.symlink_to(target)
    with ckio.atomic_output(link) as tmp:
        assert tmp.name.startswith(".t.txt.calibkit-tmp-")
        tmp.write_text("new")
    assert link.is_symlink()
    assert target.read_text() == "new"
    with ckio.atomic_output(os.devnull) as tmp:
        tmp.write_text("discarded")
    assert not any(p.name.startswith(".null") for p in tmp_path.iterdir())


def test_check_distinct_paths(tmp_path):
    a = tmp_path / "a.csv"
    a.write_text("x")
    with pytest.raises(ValueError, match=r"--output '.*a.csv' is the same file as IN"):
        ckio.check_distinct_paths({"IN": a}, {"--output": a})
    ckio.check_distinct_paths({"IN": a}, {"--output": tmp_path / "b.csv"})
