"""Mission: shapes, backbone weights, triplet behaviour, CMC / mAP by hand, protocols, a few
training steps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from training.mission.config import MissionModelConfig, load_mission_config
from training.mission.models import MissionModel, cross_modal_triplet, resnet50_backbone
from training.mission.reid import cmc_map, gallery_size_sweep
from training.mmjoints.pointdata import SimPointSpec, cached_point_dataset

SPEC = SimPointSpec(
    subjects=3, actions=("walk_across", "squat"), takes=2, frames=6, image_size=32, seed=0
)
TINY = [
    ("model.backbone", "tiny"),
    ("model.image_size", 32),
    ("model.embed_dim", 16),
    ("model.attention_dim", 8),
    ("model.vision_mlp_hidden", 16),
    ("model.rf_lstm_hidden", 8),
    ("data.actions", ["walk_across"]),
    ("data.clip_frames", 4),
    ("data.clip_stride", 2),
    ("data.max_points", 8),
    ("data.protocol", "unseen"),
    ("data.test_subject_fraction", 0.34),
    ("optim.batch_size", 4),
    ("optim.epochs", 1),
    ("optim.steps_per_epoch", 1),
    ("device", "cpu"),
]


def _tiny_model() -> MissionModel:
    cfg = load_mission_config(None, TINY)
    return MissionModel(cfg.model, 17)


def test_shapes_and_pairwise_distances() -> None:
    torch.manual_seed(0)
    model = _tiny_model().eval()  # batch-norm neck: eval statistics make pairs independent
    b, t, n = 3, 4, 6
    pts, mask = torch.randn(b, t, n, 5), torch.rand(b, t, n) > 0.3
    mask[0, 1] = False  # an empty radar frame
    images = torch.rand(b, t, 3, 32, 32)
    out = model(pts, mask, images)
    assert out["e_r"].shape == (b, 16) and out["e_v"].shape == (b, 16)
    assert out["pose_r"].shape == (b, t, 17, 3) and out["pose_v"].shape == (b, t, 17, 3)
    assert torch.allclose(out["e_r"].norm(dim=-1), torch.ones(b))
    dist = model.pair_distances(model.rf(pts, mask), model.vision(images), chunk=4)
    assert dist.shape == (b, b)
    assert torch.allclose(dist.diagonal(), (out["e_r"] - out["e_v"]).norm(dim=-1), atol=1e-5)


def test_resnet50_builds_without_weights_and_rejects_a_missing_file(tmp_path: Path) -> None:
    net = resnet50_backbone(None)
    assert net(torch.rand(1, 3, 64, 64)).shape == (1, 2048)
    with pytest.raises(FileNotFoundError, match="ResNet-50 weights"):
        resnet50_backbone(str(tmp_path / "missing.pth"))
    assert MissionModelConfig().point_mlp == [5, 12, 24, 48, 64]


def test_cross_modal_triplet_positives_come_from_other_takes() -> None:
    ids = torch.tensor([0, 0, 1])
    takes = torch.tensor([10, 11, 12])
    # camera clip 0 is the radar anchor 0's own take: never its positive although closest
    dist = torch.tensor([[0.0, 0.5, 0.9], [0.4, 0.1, 0.2], [0.7, 0.7, 0.3]])
    loss = cross_modal_triplet(dist, ids, ids, takes, takes, 0.3)
    # anchor 0: pos 0.5 (take 11), neg 0.9 -> 0; anchor 1: pos 0.4 (take 10), neg 0.2 -> 0.5;
    # anchor 2: identity 1 has one take only -> skipped
    assert float(loss) == pytest.approx((0.0 + 0.5) / 2)
    # all-triplet mining: the only active triplet is (anchor 1, pos 0.4, neg 0.2)
    loss_all = cross_modal_triplet(dist, ids, ids, takes, takes, 0.3, mining="all")
    assert float(loss_all) == pytest.approx(0.5)
    far = torch.tensor([[9.0, 0.1, 5.0], [0.1, 9.0, 5.0], [5.0, 5.0, 9.0]])
    assert float(cross_modal_triplet(far, ids, ids, takes, takes, 0.3)) == 0.0


def test_cmc_and_map_by_hand() -> None:
    dist = np.array([[0.1, 0.5, 0.3], [0.2, 0.1, 0.9]])
    q, g = np.array(["A", "B"]), np.array(["A", "A", "B"])
    cmc, m_ap, n = cmc_map(dist, q, g, top_k=3)
    # q0 ranks A, B, A: first hit rank 1, AP (1 + 2/3) / 2; q1 ranks A, A, B: rank 3, AP 1/3
    np.testing.assert_allclose(cmc, [0.5, 0.5, 1.0])
    assert m_ap == pytest.approx(((1 + 2 / 3) / 2 + 1 / 3) / 2)
    assert n == 2
    valid = np.array([[False, True, True], [True, True, True]])
    cmc, m_ap, _ = cmc_map(dist, q, g, valid=valid, top_k=3)
    np.testing.assert_allclose(cmc, [0.0, 0.5, 1.0])
    assert m_ap == pytest.approx((0.5 + 1 / 3) / 2)
    sweep = gallery_size_sweep(dist, q, g, [1, 2, 5])
    assert set(sweep) == {1, 2} and sweep[1]["top1_%"] == 100.0


def test_protocols_and_pair_sampler_keep_takes_apart() -> None:
    from training.mission.pipeline import PairSampler, collect_clips, protocol_split

    cfg = load_mission_config(None, TINY)
    clips = collect_clips(cached_point_dataset(SPEC), cached_point_dataset(SPEC).sequence_ids, cfg)
    assert clips.images.shape[1:] == (4, 3, 32, 32) and clips.points.shape[1:] == (4, 8, 5)
    train, query, _ = protocol_split(clips, cfg)
    assert not set(clips.subject[train]) & set(clips.subject[query])
    sampler = PairSampler(clips.select(train), 4, seed=0)
    for _ in range(20):
        r, c = sampler.sample()
        sub = clips.select(train)
        assert (sub.take[r] != sub.take[c]).all() and (sub.subject[r] == sub.subject[c]).all()
    cfg7525 = load_mission_config(None, [*TINY, ("data.protocol", "75/25")])
    train, query, _gallery = protocol_split(clips, cfg7525)
    assert set(clips.take[train]).isdisjoint(clips.take[query])
    assert set(clips.subject[query]) == set(clips.subject)


def test_simulated_subjects_keep_their_gait_and_size_across_takes() -> None:
    from acquisition.sim import PersonMotion, SubjectBody, SubjectGait

    def walker(subject: int, take: int) -> PersonMotion:
        return PersonMotion(
            "walk_across",
            body=SubjectBody.sample(subject),
            gait=SubjectGait.sample(100 + subject),
            seed=1000 * subject + take,
        )

    cadence = np.array([[walker(s, t).gait_cadence_hz for t in range(4)] for s in range(6)])
    height = np.array([[walker(s, t).body.height_m for t in range(4)] for s in range(6)])
    # takes of one subject: same body, cadence within the 2 % per-take jitter; across subjects
    # the cadence spread is several times larger
    assert np.ptp(height, axis=1).max() == 0.0 and np.ptp(height[:, 0]) > 0.05
    assert cadence.std(axis=1).mean() * 3 < cadence.mean(axis=1).std()
    # without a gait every take draws its own cadence (the old behaviour, kept for callers)
    legacy = [PersonMotion("walk_across", seed=t).gait_cadence_hz for t in range(6)]
    assert 0.85 <= min(legacy) and max(legacy) <= 1.0


def test_a_few_steps_reduce_the_losses_and_the_command_runs(tmp_path: Path) -> None:
    from training.cli.train import main
    from training.mission.pipeline import PairSampler, collect_clips, mission_step

    torch.manual_seed(0)
    cfg = load_mission_config(None, TINY)
    ds = cached_point_dataset(SPEC)
    clips = collect_clips(ds, ds.sequence_ids, cfg)
    r, c = PairSampler(clips, 4, seed=0).sample()
    model = MissionModel(cfg.model, 17)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first: dict[str, float] = {}
    for _ in range(25):
        loss, parts = mission_step(model, clips, r, c, cfg, torch.device("cpu"))
        first = first or parts
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
    _, last = mission_step(model, clips, r, c, cfg, torch.device("cpu"))
    assert last["loss"] < first["loss"] and last["pose_l1_m"] < first["pose_l1_m"]
    assert last["triplet"] <= first["triplet"]
    spec = "simpoints:subjects=3,actions=walk_across+squat,takes=2,frames=6,image_size=32"
    out = tmp_path / "run"
    args = ["--model", "mission", "--dataset", spec, "--out", str(out)]
    assert main([*args, "--set", *[f"{k}={v}" for k, v in TINY]]) == 0
    assert (out / "report.json").is_file() and (out / "mission.pt").is_file()
