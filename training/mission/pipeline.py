"""Mission end to end: gait clips, protocols, paired sampling, training and query / gallery
evaluation. Entry point :func:`run_mission` (``train --model mission``).

Queries are radar clips, the gallery camera clips; a query is never compared with camera clips of
its own take (radar and camera samples of one person come from different takes, as the paper
requires). Protocols:

* ``75/25``: the takes of every subject are split 75 / 25 (at least one test take per subject);
  queries come from the test takes, the gallery holds the camera clips of every other take of
  every subject (enrolment footage).
* ``unseen``: a fraction of the subjects is held out entirely (paper: 18 of 58); queries and
  gallery come from their takes only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray

from training.mission.config import MissionConfig
from training.mission.models import MissionModel, cross_modal_triplet
from training.mission.reid import cmc_map, gallery_size_sweep, random_ranking_chance
from training.mmjoints.pipeline import pick_device, root_of
from training.mmjoints.pointdata import pad_point_frames, rig_points


@dataclass
class Clips:
    """T-frame clips of walking takes (S clips).

    Attributes:
        points: (S, T, N, 5) rig points with x, y relative to the clip's point centroid (height
            kept: it is identity information), log-compressed intensity.
        mask: (S, T, N).
        images: (S, T, 3, H, W) uint8.
        boxes: (S, T, 6) the person's box in each camera frame (:func:`person_boxes`).
        pose: (S, T, J, 3) root-relative ground-truth joints, metres.
        subject, take: (S,) identity and take ids.
    """

    points: NDArray[np.float32]
    mask: NDArray[np.bool_]
    images: NDArray[np.uint8]
    boxes: NDArray[np.float32]
    pose: NDArray[np.float32]
    subject: NDArray[np.str_]
    take: NDArray[np.str_]

    def __len__(self) -> int:
        return len(self.subject)

    def select(self, idx: NDArray[np.int64]) -> Clips:
        return Clips(
            self.points[idx],
            self.mask[idx],
            self.images[idx],
            self.boxes[idx],
            self.pose[idx],
            self.subject[idx],
            self.take[idx],
        )


def _resize(images: NDArray[np.uint8], size: int) -> NDArray[np.uint8]:
    """(n, H, W, 3) -> (n, 3, size, size) (bilinear)."""
    x = torch.as_tensor(images).permute(0, 3, 1, 2).float()
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return np.asarray(x.round().clamp(0, 255).to(torch.uint8).numpy())


def collect_clips(source: Any, seq_ids: Sequence[str], cfg: MissionConfig) -> Clips:
    """Every clip of the sequences whose action is in ``cfg.data.actions``."""
    from labeling.skeletons import get_schema

    d = cfg.data
    landmarks = get_schema(d.skeleton).landmarks
    out: dict[str, list[Any]] = {k: [] for k in ("p", "m", "i", "b", "k", "s", "t")}
    for seq_id in seq_ids:
        seq = source.sequence(seq_id)
        if d.actions is not None and seq.attrs.get("action") not in d.actions:
            continue
        camera = d.camera or seq.cameras[0]
        gt = np.asarray(seq.labels(d.skeleton)["keypoints_3d"], np.float64)
        pts = rig_points(seq, 0, seq.num_frames, radars=d.radars)
        raw = np.asarray(seq.read_images(camera, 0, seq.num_frames))
        boxes = person_boxes(raw)
        images = _resize(raw, cfg.model.image_size)
        if d.subtract_background:
            images = foreground(images)
        for s in range(0, seq.num_frames - d.clip_frames + 1, d.clip_stride):
            sl = slice(s, s + d.clip_frames)
            if not np.isfinite(gt[sl]).all():
                continue
            p, m = pad_point_frames(pts[sl], d.max_points, rng=None)
            if m.any():
                p[..., :2] -= p[..., :2][m].mean(0)
            p[..., 4] = np.log1p(np.maximum(p[..., 4], 0) / _INTENSITY_SCALE)
            p[~m] = 0.0
            out["p"].append(p)
            out["m"].append(m)
            out["i"].append(images[sl])
            out["b"].append(boxes[sl])
            out["k"].append((gt[sl] - root_of(gt[sl], landmarks)[:, None]).astype(np.float32))
            out["s"].append(str(seq.attrs["subject"]))
            out["t"].append(seq_id)
    if not out["p"]:
        raise ValueError("no clips: check data.actions and clip_frames against the dataset")
    return Clips(
        np.stack(out["p"]),
        np.stack(out["m"]),
        np.stack(out["i"]),
        np.stack(out["b"]),
        np.stack(out["k"]),
        np.array(out["s"]),
        np.array(out["t"]),
    )


def foreground(images: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Background subtraction of a fixed camera's take: (F, 3, H, W) -> 128 + (frame - per-pixel
    median of the take) / 2, so the room (the same in every clip, and most of every frame)
    becomes flat grey and only the moving person is left."""
    x = images.astype(np.int16)
    bg = np.median(x, axis=0, keepdims=True).astype(np.int16)
    return np.asarray(np.clip(128 + (x - bg) // 2, 0, 255), np.uint8)


def person_boxes(frames: NDArray[np.uint8], threshold: int = 40) -> NDArray[np.float32]:
    """The moving person's box in every frame of a fixed camera's take, at the frames' own
    resolution (a background-subtraction detector): (F, H, W, 3) uint8 -> (F, 6) float32
    ``(top, bottom, left, right, area, visible)``, rows / columns as fractions of the image
    height / width, area the foreground share of the image; all 0 where nothing moves.

    With a calibrated, fixed camera the bottom row gives the distance along the floor and
    the top-to-bottom extent the person's stature, as the radar's heights do."""
    x = frames.astype(np.int16)
    bg = np.median(x, axis=0, keepdims=True).astype(np.int16)
    fg = np.abs(x - bg).sum(-1) > threshold  # (F, H, W)
    f, h, w = fg.shape
    out = np.zeros((f, 6), np.float32)
    for k in range(f):
        rows, cols = np.flatnonzero(fg[k].any(1)), np.flatnonzero(fg[k].any(0))
        if len(rows) == 0:
            continue
        out[k] = (
            rows[0] / h,
            (rows[-1] + 1) / h,
            cols[0] / w,
            (cols[-1] + 1) / w,
            fg[k].mean(),
            1.0,
        )
    return out


#: intensities are linear power in ADC units; log1p(I / scale) keeps them O(1)
_INTENSITY_SCALE = 1e9


def protocol_split(
    clips: Clips, cfg: MissionConfig
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """(train clip indexes, query clip indexes, gallery clip indexes) of ``cfg.data.protocol``."""
    rng = np.random.default_rng(cfg.seed)
    subjects = sorted(set(clips.subject.tolist()))
    if cfg.data.protocol == "unseen":
        n_test = max(1, round(cfg.data.test_subject_fraction * len(subjects)))
        test_subjects = set(rng.permutation(subjects)[:n_test].tolist())
        test = np.isin(clips.subject, list(test_subjects))
        idx = np.flatnonzero(test)
        return np.flatnonzero(~test), idx, idx
    test_takes: list[str] = []
    for s in subjects:
        takes = sorted(set(clips.take[clips.subject == s].tolist()))
        if len(takes) < 2:
            raise ValueError(f"75/25 protocol needs 2+ takes of subject {s}")
        n_test = max(1, round(0.25 * len(takes)))
        test_takes += rng.permutation(takes)[:n_test].tolist()
    query = np.isin(clips.take, test_takes)
    return np.flatnonzero(~query), np.flatnonzero(query), np.arange(len(clips))


class PairSampler:
    """Batches of (radar clip, camera clip) pairs of the same subject from different takes:
    ``batch_size // 2`` subjects, 2 pairs each (so every anchor has in-batch negatives)."""

    def __init__(self, clips: Clips, batch_size: int, seed: int) -> None:
        self.clips = clips
        self.rng = np.random.default_rng(seed)
        self.per_subject = 2
        self.by_subject: dict[str, NDArray[np.int64]] = {}
        for s in sorted(set(clips.subject.tolist())):
            idx = np.flatnonzero(clips.subject == s)
            if len(set(clips.take[idx].tolist())) >= 2:
                self.by_subject[s] = idx
        if len(self.by_subject) < 2:
            raise ValueError("training needs 2+ subjects with 2+ takes each")
        self.subjects_per_batch = max(2, min(len(self.by_subject), batch_size // self.per_subject))

    def sample(self) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """(radar clip indexes (B,), camera clip indexes (B,))."""
        names = list(self.by_subject)
        chosen = self.rng.choice(len(names), self.subjects_per_batch, replace=False)
        radar, camera = [], []
        for c in chosen:
            idx = self.by_subject[names[c]]
            for _ in range(self.per_subject):
                r = int(self.rng.choice(idx))
                others = idx[self.clips.take[idx] != self.clips.take[r]]
                radar.append(r)
                camera.append(int(self.rng.choice(others)))
        return np.array(radar), np.array(camera)


def _tensors(c: Clips, idx: NDArray[np.int64], device: torch.device) -> tuple[torch.Tensor, ...]:
    """(points, mask, images in [0, 1], boxes, pose) of clips ``idx``."""
    return (
        torch.as_tensor(c.points[idx], device=device),
        torch.as_tensor(c.mask[idx], device=device),
        torch.as_tensor(c.images[idx], device=device).float() / 255.0,
        torch.as_tensor(c.boxes[idx], device=device),
        torch.as_tensor(c.pose[idx], device=device),
    )


def _ids(values: NDArray[np.str_], device: torch.device) -> torch.Tensor:
    _, inv = np.unique(values, return_inverse=True)
    return torch.as_tensor(inv, device=device)


def mission_step(
    model: MissionModel,
    clips: Clips,
    radar: NDArray[np.int64],
    camera: NDArray[np.int64],
    cfg: MissionConfig,
    device: torch.device,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Loss of one batch of pairs: alpha * L_pose + beta * L_triplet."""
    pr, mr, _, _, pose_r = _tensors(clips, radar, device)
    _, _, iv, bv, pose_v = _tensors(clips, camera, device)
    r, v = model.rf(pr, mr), model.vision(iv, bv)
    dist = model.pair_distances(r, v)
    subj = _ids(np.concatenate([clips.subject[radar], clips.subject[camera]]), device)
    take = _ids(np.concatenate([clips.take[radar], clips.take[camera]]), device)
    b = len(radar)
    triplet = cross_modal_triplet(
        dist,
        subj[:b],
        subj[b:],
        take[:b],
        take[b:],
        cfg.model.triplet_margin,
        mining=cfg.model.triplet_mining,
    )
    _, _, y_r, y_v = model.coordinate(r, v)
    t = y_r.shape[1]
    j = model.num_joints
    pose = F.l1_loss(model.pose_r(y_r).view(b, t, j, 3), pose_r) + F.l1_loss(
        model.pose_v(y_v).view(b, t, j, 3), pose_v
    )
    loss = cfg.model.alpha * pose + cfg.model.beta * triplet
    return loss, {
        "loss": float(loss.detach()),
        "triplet": float(triplet.detach()),
        "pose_l1_m": float(pose.detach()) / 2,
    }


@torch.no_grad()
def evaluate_reid(
    model: MissionModel,
    clips: Clips,
    query: NDArray[np.int64],
    gallery: NDArray[np.int64],
    cfg: MissionConfig,
    device: torch.device,
) -> dict[str, Any]:
    """CMC top-1..10, mAP, gallery-size sweep and pose error on ``query`` x ``gallery``."""
    model.eval()
    feats_r, feats_v = [], []
    for i in range(0, len(query), 32):
        p, m, _, _, _ = _tensors(clips, query[i : i + 32], device)
        feats_r.append(model.rf(p, m))
    for i in range(0, len(gallery), 32):
        _, _, im, bx, _ = _tensors(clips, gallery[i : i + 32], device)
        feats_v.append(model.vision(im, bx))
    r, v = torch.cat(feats_r), torch.cat(feats_v)
    dist = model.pair_distances(r, v).cpu().numpy()
    valid = clips.take[query][:, None] != clips.take[gallery][None]
    q_ids, g_ids = clips.subject[query], clips.subject[gallery]
    cmc, m_ap, n = cmc_map(dist, q_ids, g_ids, valid=valid, top_k=10)
    n_ids = len(set(g_ids.tolist()))
    # pose error of the radar branch, each query paired with its best gallery match
    best = np.where(valid, dist, np.inf).argmin(1)
    _, _, y_r, _ = model.coordinate(r, v[torch.as_tensor(best, device=device)])
    pose = model.pose_r(y_r).view(len(query), y_r.shape[1], -1, 3).cpu().numpy()
    err = np.linalg.norm(pose - clips.pose[query], axis=-1).mean()
    return {
        "queries": n,
        "gallery_clips": len(gallery),
        "gallery_identities": n_ids,
        "CMC_%": {f"top{k + 1}": 100.0 * float(cmc[k]) for k in range(10)},
        "mAP_%": 100.0 * m_ap,
        "chance_top1_%": 100.0 / max(n_ids, 1),
        "chance_random_ranking_%": random_ranking_chance(q_ids, g_ids, valid=valid, seed=cfg.seed),
        "gallery_size_sweep": {
            str(k): val
            for k, val in gallery_size_sweep(
                dist, q_ids, g_ids, cfg.data.gallery_sizes, valid=valid, seed=cfg.seed
            ).items()
        },
        "radar_pose_error_m": float(err),
    }


def run_mission(cfg: MissionConfig, source: Any, *, out: Path, log: Any = print) -> dict[str, Any]:
    """Train Mission under ``cfg.data.protocol`` and evaluate re-identification."""
    from labeling.skeletons import get_schema
    from training.seeding import seed_everything

    t0 = time.perf_counter()
    seed_everything(cfg.seed)
    device = pick_device(cfg.device)
    out.mkdir(parents=True, exist_ok=True)
    clips = collect_clips(source, list(source.sequence_ids), cfg)
    train, query, gallery = protocol_split(clips, cfg)
    log(
        f"{len(clips)} clips of {len(set(clips.subject.tolist()))} subjects; protocol "
        f"{cfg.data.protocol}: {len(train)} train, {len(query)} query, {len(gallery)} gallery"
    )
    model = MissionModel(cfg.model, len(get_schema(cfg.data.skeleton).joints)).to(device)
    train_clips = clips.select(train)
    sampler = PairSampler(train_clips, cfg.optim.batch_size, cfg.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
    history: list[dict[str, float]] = []
    for epoch in range(cfg.optim.epochs):
        model.train()
        sums: dict[str, float] = {}
        for _ in range(cfg.optim.steps_per_epoch):
            radar, camera = sampler.sample()
            loss, parts = mission_step(model, train_clips, radar, camera, cfg, device)
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + v / cfg.optim.steps_per_epoch
        history.append(sums)
        if epoch in (0, cfg.optim.epochs - 1) or (epoch + 1) % 10 == 0:
            log(f"mission epoch {epoch + 1}: " + " ".join(f"{k} {v:.4f}" for k, v in sums.items()))
    torch.save(
        {"kind": "mission", "config": cfg.to_dict(), "model": model.state_dict()},
        out / "mission.pt",
    )
    report = {
        "protocol": cfg.data.protocol,
        "clips": len(clips),
        "train_clips": len(train),
        "losses_first_epoch": history[0],
        "losses_last_epoch": history[-1],
        "test": evaluate_reid(model, clips, query, gallery, cfg, device),
    }
    report["wall_s"] = time.perf_counter() - t0
    (out / "report.json").write_text(json.dumps(report, indent=2, default=float))
    return report
