"""dataset-build on simulated takes with injected faults, checked frame by frame against the
simulator's ground truth (the bytes each radar sent, the rendered images, the joints)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from acquisition.radar.config import parse_radar_config
from acquisition.recording.checksums import sha256_file
from dataset_tools.build import BuildConfig, build_dataset
from dataset_tools.dataset import open_dataset
from dataset_tools.dsp import decode_adc_frames, rd_video_frames
from dataset_tools.representations import RepresentationConfig
from tests.dataset_tools.sim_takes import PERIOD_NS, T0_NS, SimTake, SimTakeFactory, TakeFaults


def _config(root: Path, out: Path, **kw: object) -> BuildConfig:
    base: dict[str, object] = {
        "sessions": ("S",),
        "sessions_root": root,
        "out": out,
        "representations": RepresentationConfig(names=("rd", "points", "raw")),
        "quiet": True,
    }
    base.update(kw)
    return BuildConfig(**base)  # type: ignore[arg-type]


FAULTS = TakeFaults(
    radar_missing={"horizontal": {105}},
    radar_lost={"horizontal": {107}},
    radar_late_start={"vertical": 3},
    camera_missing={104},
    camera_untriggered={108: 6_000_000, 109: 45_000_000},
    first_pulse=100,
)


@pytest.fixture
def faulty_build(sim_take_factory: SimTakeFactory, tmp_path: Path) -> tuple[SimTake, Path]:
    take = sim_take_factory("S", "S01_walk_001", frames=12, faults=FAULTS)
    out = tmp_path / "ds.zarr"
    summary = build_dataset(_config(take.path.parent.parent, out))
    assert [o.status for o in summary.outcomes] == ["built"]
    return take, out


def test_every_stream_is_aligned_to_the_trigger_axis(faulty_build: tuple[SimTake, Path]) -> None:
    take, out = faulty_build
    ds = open_dataset(out)
    seq = ds.sequence("S01_walk_001")
    assert seq.num_frames == 12
    np.testing.assert_array_equal(seq.trigger_index, np.arange(100, 112))
    np.testing.assert_array_equal(seq.timestamps("trigger"), T0_NS + seq.trigger_index * PERIOD_NS)

    h_present = seq.mask("radar/horizontal/present")
    h_ok = seq.mask("radar/horizontal")
    assert not h_present[5] and h_present.sum() == 11
    assert h_present[7] and not h_ok[7], "a frame with lost bytes is kept but masked"
    assert seq.lost_bytes("horizontal")[7] > 0
    v_present = seq.mask("radar/vertical/present")
    np.testing.assert_array_equal(v_present, np.arange(12) >= 3)
    ts = seq.timestamps("radar/horizontal")
    assert ts[5] == -1 and ts[6] == T0_NS + 106 * PERIOD_NS

    params = parse_radar_config(seq.attrs["radars"]["horizontal"]["cfg_text"]).params(
        "IWR1843BOOST"
    )
    for radar in ("horizontal", "vertical"):
        raw = seq.read(radar, "raw")
        rd = seq.read(radar, "rd")
        for i, k in enumerate(seq.trigger_index):
            sent = take.radar_bytes[radar].get(int(k))
            if sent is None:
                assert not seq.mask(f"radar/{radar}/present")[i]
                assert np.isnan(rd[i]).all(), "missing frames are NaN, never zeros"
                continue
            cube = decode_adc_frames(sent, params)
            np.testing.assert_array_equal(raw[i], cube[0])
            np.testing.assert_allclose(
                rd[i], rd_video_frames(cube, normalise="none")[0], rtol=1e-5, atol=1e-4
            )
    clouds = seq.read_points("horizontal", 0, 12)
    assert len(clouds) == 12 and all(c.shape[1] == 8 for c in clouds)
    assert clouds[5].shape[0] == 0

    cam_ok = seq.mask("camera/rgb")
    expected = np.ones(12, bool)
    expected[[4, 9]] = False  # dropped; untriggered 45 ms off is beyond the 20 ms tolerance
    np.testing.assert_array_equal(cam_ok, expected)
    images = seq.read_images("rgb")
    world = take.world
    for i, k in enumerate(seq.trigger_index):
        if cam_ok[i]:
            np.testing.assert_array_equal(images[i], world.camera_images("rgb", int(k))[0])
        else:
            assert not images[i].any()
    stats = seq.attrs["stats"]["camera"]["rgb/color"]["alignment"]
    assert stats["by_time"] == 1 and stats["dropped"] == {"no_pulse_within_tolerance": 1}

    sim = seq.labels("sim20")
    assert sim["present"].all()
    for i, k in enumerate(seq.trigger_index):
        np.testing.assert_allclose(sim["keypoints_3d"][i], world.instant(int(k)).joints, atol=1e-6)
    hupr = seq.labels("hupr14")
    assert hupr["keypoints_2d"].shape == (12, 14, 3)
    assert hupr["image_size"] == (640, 480)
    names = sim["joint_names"]
    ears = sim["keypoints_2d"][:, [names.index("left_ear"), names.index("right_ear")], :2]
    np.testing.assert_allclose(hupr["keypoints_2d"][:, 7, :2], ears.mean(axis=1), atol=1e-3)
    assert set(seq.label_schemas) == {"sim20", "coco17", "hupr14", "maepose13"}


def test_a_late_take_start_and_missing_camera_are_reported(
    faulty_build: tuple[SimTake, Path],
) -> None:
    take, out = faulty_build
    seq = open_dataset(out).sequence("S01_walk_001")
    radar_stats = seq.attrs["stats"]["radar"]
    assert radar_stats["horizontal"]["missing"] == 1
    assert radar_stats["horizontal"]["incomplete"] == 1
    assert radar_stats["vertical"]["missing"] == 3
    # the provenance holds the recording's real SHA-256 (the manifest's, checked by CRC32C)
    mcap = take.path / "streams.mcap"
    assert seq.attrs["source"]["sha256"]["streams.mcap"] == sha256_file(mcap)
    assert seq.attrs["alignment"]["method"] == "trigger"
