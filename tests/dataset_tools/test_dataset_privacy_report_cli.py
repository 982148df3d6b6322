"""Privacy options, splits, the reading API's edges, dataset-info, dataset-report and the CLI."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from dataset_tools.alignment import AlignmentConfig, align_stream, build_timeline
from dataset_tools.cli import dataset_build, dataset_info, dataset_report
from dataset_tools.dataset import DatasetError, open_dataset
from dataset_tools.splits import SplitConfig, lopo_folds, split_by_sequence
from dataset_tools.take_index import StreamRows, TakeIndex
from tests.dataset_tools.sim_takes import SimTakeFactory


@pytest.fixture
def session(sim_take_factory: SimTakeFactory) -> Path:
    sim_take_factory("S", "S01_wave_001", frames=4, action="wave_one_hand")
    take = sim_take_factory("S", "S02_squat_001", frames=4, subject="S02", action="squat", seed=3)
    return take.path.parent.parent


def test_cli_build_with_privacy_options(
    session: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = tmp_path / "plain.zarr"
    rc = dataset_build.main(
        [
            "--session",
            "S",
            "--sessions-root",
            str(session),
            "--out",
            str(plain),
            "--representations",
            "rd,points",
            "--workers",
            "1",
            "--quiet",
        ]
    )
    assert rc == 0
    private = tmp_path / "private.zarr"
    rc = dataset_build.main(
        [
            "--session",
            "S",
            "--sessions-root",
            str(session),
            "--out",
            str(private),
            "--representations",
            "rd",
            "--workers",
            "1",
            "--blur-faces",
            "--pseudonyms",
            "hash:secret",
            "--no-depth",
            "--quiet",
        ]
    )
    assert rc == 0
    a, b = open_dataset(plain), open_dataset(private)
    assert not any("S01" in s or "S02" in s for s in b.sequence_ids)
    assert set(b.splits["by_subject"]) == set(b.attrs["subjects"])
    assert all(s.startswith("P") for s in b.attrs["subjects"])
    assert "hash:secret" not in str(b.attrs)
    sa = a.sequence("S01_wave_001")
    sb = next(iter(b))
    ra, rb = sa.read_images("rgb"), sb.read_images("rgb")
    face = sa.labels("sim20")
    nose = face["keypoints_2d"][0, 0, :2].astype(int)
    x, y = int(nose[0]), int(nose[1])
    assert not np.array_equal(
        ra[0, y - 5 : y + 5, x - 5 : x + 5], rb[0, y - 5 : y + 5, x - 5 : x + 5]
    )
    np.testing.assert_array_equal(ra[0, -40:], rb[0, -40:])  # feet: untouched
    assert b.attrs["privacy"]["blur_faces"] is True

    no_rgb = tmp_path / "norgb.zarr"
    assert (
        dataset_build.main(
            [
                "--session",
                "S",
                "--sessions-root",
                str(session),
                "--out",
                str(no_rgb),
                "--representations",
                "rd",
                "--workers",
                "1",
                "--no-rgb",
                "--quiet",
            ]
        )
        == 0
    )
    seq = open_dataset(no_rgb).sequence("S02_squat_001")
    with pytest.raises(DatasetError, match="privacy"):
        seq.read_images("rgb")
    assert seq.mask("camera/rgb").all() and seq.labels("coco17")["present"].all()

    assert (
        dataset_build.main(
            ["--session", "S", "--sessions-root", str(session), "--out", str(plain), "--quiet"]
        )
        == 2
    ), "an existing dataset is not replaced without --overwrite"
    assert dataset_info.main([str(plain), "--sequences"]) == 0
    assert "S02_squat_001" in capsys.readouterr().out
    report = tmp_path / "report"
    assert dataset_report.main([str(plain), "--out", str(report)]) == 0
    page = (report / "index.html").read_text()
    assert "What this dataset contains" in page and "S01_wave_001" in page
    pngs = sorted(p.name for p in (report / "figures").iterdir())
    assert any(p.endswith("_rd.png") for p in pngs) and any(p.endswith("_rgb.png") for p in pngs)
    assert any(p.endswith("_confidence.png") for p in pngs)


def test_reading_api_windows_and_errors(session: Path, tmp_path: Path) -> None:
    out = tmp_path / "d.zarr"
    dataset_build.main(
        [
            "--session",
            "S",
            "--sessions-root",
            str(session),
            "--out",
            str(out),
            "--representations",
            "rd,ra",
            "--workers",
            "1",
            "--quiet",
        ]
    )
    ds = pickle.loads(pickle.dumps(open_dataset(out)))
    assert ds.format_version == 2 and len(ds) == 2
    seq = ds.sequence("S02_squat_001")
    assert seq.representations("vertical") == ["ra", "rd"]
    window = seq.read("vertical", "rd", 1, 3)
    assert window.shape == (2, 64, 256) and window.dtype == np.float32
    np.testing.assert_array_equal(
        seq.read("vertical", "rd", 1, 3, index=(slice(10, 20),)), window[:, 10:20]
    )
    with pytest.raises(IndexError):
        seq.read("vertical", "rd", 2, 9)
    with pytest.raises(DatasetError, match="no 'vrdae'"):
        seq.read("vertical", "vrdae", 0, 1)
    with pytest.raises(DatasetError):
        seq.mask("lidar/x")
    with pytest.raises(KeyError):
        ds.sequence("nope")
    assert seq.timestamps("labels/hupr14").shape == (4,)


def test_splits_are_by_sequence_subject_and_scene() -> None:
    ids = [f"seq{i:02d}" for i in range(20)]
    s = split_by_sequence(ids, SplitConfig())
    assert (len(s["train"]), len(s["val"]), len(s["test"])) == (16, 2, 2)
    assert sorted(s["train"] + s["val"] + s["test"]) == ids
    assert s == split_by_sequence(list(reversed(ids)), SplitConfig())
    folds = lopo_folds({"by_subject": {"A": ["a1", "a2"], "B": ["b1"]}})
    assert folds == [("A", ["b1"], ["a1", "a2"]), ("B", ["a1", "a2"], ["b1"])]


def test_time_fallback_without_trigger_board() -> None:
    stamps = np.arange(5, dtype=np.int64) * 100_000_000
    radar = StreamRows.from_lists([(-1, int(t), i, True, 0, 10) for i, t in enumerate(stamps)])
    camera = StreamRows.from_lists(
        [(-1, int(t) + 7_000_000, i, True, 0, 0) for i, t in enumerate(stamps) if i != 2]
    )
    index = TakeIndex(
        np.zeros(0, np.int64), np.zeros(0, np.int64), {"r": radar}, {"c/color": camera}
    )
    timeline = build_timeline(index, AlignmentConfig(tolerance_ns=10_000_000))
    assert timeline.method == "timestamps:r" and timeline.num_frames == 5
    al = align_stream(camera, timeline, AlignmentConfig(tolerance_ns=10_000_000))
    np.testing.assert_array_equal(al.row_of_frame, [0, 1, -1, 2, 3])
    strict = align_stream(camera, timeline, AlignmentConfig(tolerance_ns=5_000_000))
    assert strict.dropped == {"no_pulse_within_tolerance": 4}
