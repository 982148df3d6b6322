"""Export to HuPR's layout (exact file names and annotation structure), then import it back:
VRDAE maps, HuPR-14 labels, masks and the time axis come back unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from dataset_tools.build import BuildConfig, build_dataset
from dataset_tools.cli import dataset_export, dataset_import
from dataset_tools.dataset import open_dataset
from dataset_tools.representations import RepresentationConfig
from tests.dataset_tools.sim_takes import SimTakeFactory, TakeFaults


def test_hupr_export_then_import_is_lossless(
    sim_take_factory: SimTakeFactory, tmp_path: Path
) -> None:
    sim_take_factory(
        "S", "S01_walk_001", frames=5, faults=TakeFaults(radar_missing={"vertical": {1}})
    )
    take = sim_take_factory("S", "S02_squat_001", frames=4, subject="S02", action="squat", seed=3)
    out = tmp_path / "d.zarr"
    build_dataset(
        BuildConfig(
            sessions=("S",),
            sessions_root=take.path.parent.parent,
            out=out,
            representations=RepresentationConfig(names=("vrdae",)),
            rgb=False,
            quiet=True,
        )
    )
    hupr = tmp_path / "hupr"
    assert dataset_export.main([str(out), str(hupr), "--format", "hupr"]) == 0
    ds = open_dataset(out)
    ids = sorted(ds.sequence_ids)
    assert sorted(p.name for p in hupr.iterdir() if p.is_dir()) == ["single_1", "single_2"]
    files = sorted(p.name for p in (hupr / "single_1" / "hori").iterdir())
    assert files == [f"{i:09d}.npy" for i in range(5)]
    frame = np.load(hupr / "single_1" / "vert" / "000000002.npy")
    assert frame.shape == (16, 64, 64, 8) and frame.dtype == np.complex128
    splits = json.loads((hupr / "splits.json").read_text())
    for split in ("train", "val", "test"):
        annot = json.loads((hupr / f"hrnet_annot_{split}.json").read_text())
        assert len(annot) == len(splits[split])
        for seq_entries in annot:
            first = seq_entries[0]
            assert set(first) == {"image", "joints", "bbox"}
            assert first["image"] == "000000000.jpg"
            assert np.asarray(first["joints"]).shape == (14, 2)
            assert np.all(np.asarray(first["joints"]) <= 256) and len(first["bbox"]) == 4
    seq1 = ds.sequence(ids[0])
    labels = seq1.labels("hupr14")
    annot_all = {
        n: e
        for s in ("train", "val", "test")
        for n, e in zip(
            splits[s], json.loads((hupr / f"hrnet_annot_{s}.json").read_text()), strict=True
        )
    }
    np.testing.assert_allclose(
        np.asarray(annot_all[1][3]["joints"]),
        labels["keypoints_2d"][3, :, :2] * [256 / 640, 256 / 480],
        rtol=1e-6,
    )

    back = tmp_path / "back.h5"
    assert dataset_import.main(["hupr", str(hupr), "--out", str(back)]) == 0
    rt = open_dataset(back)
    assert sorted(rt.sequence_ids) == ids
    assert rt.splits["by_sequence"] == ds.splits["by_sequence"]
    for seq_id in ids:
        a, b = ds.sequence(seq_id), rt.sequence(seq_id)
        np.testing.assert_array_equal(a.trigger_index, b.trigger_index)
        np.testing.assert_array_equal(a.timestamps("trigger"), b.timestamps("trigger"))
        for radar in ("horizontal", "vertical"):
            va, vb = a.read(radar, "vrdae"), b.read(radar, "vrdae")
            assert vb.dtype == np.complex64
            np.testing.assert_array_equal(va, vb)
            for mask in (f"radar/{radar}", f"radar/{radar}/present"):
                np.testing.assert_array_equal(a.mask(mask), b.mask(mask))
            np.testing.assert_array_equal(
                a.timestamps(f"radar/{radar}"), b.timestamps(f"radar/{radar}")
            )
        la, lb = a.labels("hupr14"), b.labels("hupr14")
        for key in ("keypoints_2d", "keypoints_3d", "valid", "boxes", "present"):
            np.testing.assert_array_equal(la[key], lb[key], err_msg=key)
        assert la["image_size"] == lb["image_size"]
        assert b.attrs["subject"] == a.attrs["subject"]


def test_import_of_a_bare_hupr_release(tmp_path: Path) -> None:
    """HuPR's own release has no meta.json / splits.json: sequences map to the annotation lists
    in order (train, val, test)."""
    root = tmp_path / "HuPR"
    for i in (1, 2):
        for sub in ("hori", "vert"):
            (root / f"single_{i}" / sub).mkdir(parents=True)
            for f in range(3):
                np.save(
                    root / f"single_{i}" / sub / f"{f:09d}.npy", np.full((16, 64, 64, 8), i + 0.5j)
                )
    entry = {"image": "000000000.jpg", "joints": [[10.0, 20.0]] * 14, "bbox": [1, 2, 3, 4]}
    (root / "hrnet_annot_train.json").write_text(json.dumps([[entry] * 3]))
    (root / "hrnet_annot_val.json").write_text(json.dumps([]))
    (root / "hrnet_annot_test.json").write_text(json.dumps([[entry] * 3]))
    out = tmp_path / "hupr.zarr"
    assert dataset_import.main(["hupr", str(root), "--out", str(out)]) == 0
    ds = open_dataset(out)
    assert ds.splits["by_sequence"] == {"train": ["single_1"], "val": [], "test": ["single_2"]}
    seq = ds.sequence("single_2")
    assert seq.read("vertical", "vrdae", 0, 3).shape == (3, 16, 64, 64, 8)
    lab = seq.labels("hupr14")
    assert lab["image_size"] == (256, 256)
    np.testing.assert_array_equal(lab["keypoints_2d"][0, 0], [10.0, 20.0, 1.0])
