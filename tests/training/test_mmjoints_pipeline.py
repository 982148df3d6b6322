"""mmJoints on a tiny simulated point-cloud dataset: losses fall, predictions files round-trip,
the command runs end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from training.mmjoints.config import load_mmjoints_config
from training.mmjoints.pointdata import (
    SimPointSequence,
    SimPointSpec,
    cached_point_dataset,
    rig_points,
)

SPEC = SimPointSpec(
    subjects=3, actions=("walk_across", "squat"), takes=2, frames=6, image_size=32, seed=0
)
TINY = [
    ("model.hidden", 16),
    ("model.attention_heads", 2),
    ("model.attention_layers", 1),
    ("model.signal_dim", 8),
    ("model.pose_basis", 8),
    ("model.gmm_max_clusters", 3),
    ("model.mixture_components", 3),
    ("data.window", 3),
    ("data.max_points", 8),
    ("optim.epochs", 1),
    ("optim.baseline_epochs", 1),
    ("optim.activity_epochs", 1),
    ("activity.window", 3),
    ("device", "cpu"),
]


def test_rig_points_lie_on_the_body() -> None:
    ds = cached_point_dataset(SPEC)
    seq = ds.sequence(ds.sequence_ids[0])
    assert isinstance(seq, SimPointSequence)
    pts = np.concatenate(rig_points(seq, 0, seq.num_frames))
    gt = np.asarray(seq.labels("sim20")["keypoints_3d"])
    assert pts.shape[1] == 5 and len(pts) > 0
    nearest = np.linalg.norm(pts[:, None, :3] - gt.reshape(-1, 3)[None], axis=-1).min(1)
    assert np.median(nearest) < 0.5  # metres: points come from the person
    # the "people" detector keeps a usable cloud on the person (the out-of-box windows with
    # peak grouping kept 1-3 points per radar frame: the body fills their training cells)
    assert len(pts) / seq.num_frames >= 20
    assert np.median(nearest) < 0.25


def test_a_few_steps_reduce_every_loss() -> None:
    from labeling.skeletons import get_schema
    from training.mmjoints.models import MmJoints, orthonormal_basis
    from training.mmjoints.pipeline import (
        _batches,
        collect_windows,
        fit_pose_gmm,
        mmjoints_losses,
        prepare,
        root_of,
    )

    torch.manual_seed(0)
    cfg = load_mmjoints_config(None, TINY)
    ds = cached_point_dataset(SPEC)
    lm = get_schema("coco17").landmarks
    w = collect_windows(ds, ds.splits["by_sequence"]["train"], cfg, rng=None)
    base = {}
    for s in set(w.seq.tolist()):
        gt = np.asarray(ds.sequence(s).labels("coco17")["keypoints_3d"], np.float64)
        base[s] = gt + np.random.default_rng(0).normal(0, 0.1, gt.shape)
    poses = (w.gt - root_of(w.gt, lm)[:, None]).reshape(len(w), -1)
    gmm, _ = fit_pose_gmm(poses, 3, seed=0)
    prep = prepare(w, base, lm, cfg, torso=50.0, iscale=1e9, gmm=gmm, device=torch.device("cpu"))
    model = MmJoints(
        num_joints=17,
        hidden=16,
        heads=2,
        layers=1,
        signal_dim=8,
        components=3,
        basis=orthonormal_basis(gmm.pose_means(), 8),
        mean_pose=poses.mean(0),
        n_clusters=gmm.num_components,
    )
    batch = _batches(prep, torch.arange(min(16, len(w))))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first: dict[str, float] = {}
    for _step in range(40):
        loss, parts = mmjoints_losses(model, batch, cfg)
        first = first or parts
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
    _, last = mmjoints_losses(model, batch, cfg)
    for key in ("vae", "ce", "huber", "descriptor_mse"):
        assert last[key] < first[key], (key, first[key], last[key])
    assert last["triplet"] <= first["triplet"] + 1e-6
    # the mixture generator chases the signal encoder's Gaussians: with those fixed, it converges
    for p in model.signal.parameters():
        p.requires_grad_(False)
    _, before = mmjoints_losses(model, batch, cfg)
    for _ in range(30):
        loss, _ = mmjoints_losses(model, batch, cfg)
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
    _, after = mmjoints_losses(model, batch, cfg)
    assert after["mixture_l1"] < before["mixture_l1"]


def test_predictions_round_trip_and_cli(tmp_path: Path) -> None:
    from training.cli.train import main
    from training.mmjoints.predictions import load_predictions, write_predictions

    ds = cached_point_dataset(SPEC)
    ids = ds.sequence_ids
    preds = {s: np.asarray(ds.sequence(s).labels("sim20")["keypoints_3d"]) for s in ids}
    path = write_predictions(tmp_path / "p.npz", preds, {"skeleton": "sim20"})
    loaded = load_predictions(path, ds, ids, skeleton="coco17")
    gt = np.asarray(ds.sequence(ids[0]).labels("coco17")["keypoints_3d"])
    np.testing.assert_allclose(loaded[ids[0]], gt, atol=1e-5)  # converted sim20 -> coco17
    spec = "simpoints:subjects=3,actions=walk_across+squat,takes=2,frames=6,image_size=32"
    sets = [f"{k}={v}" for k, v in TINY]
    out = tmp_path / "run"
    assert (
        main(
            [
                "--model",
                "mmjoints",
                "--dataset",
                spec,
                "--base",
                str(path),
                "--out",
                str(out),
                "--set",
                *sets,
            ]
        )
        == 0
    )
    report = json.loads((out / "report.json").read_text())
    # ground truth as the base model: every joint perfectly reliable
    assert report["refined_pose"]["before"]["MPJPE_m"] < 1e-5
    assert {"xi", "kappa"} <= set(report["descriptors"])
    assert "pose_only" in report["activity_accuracy_%"]
