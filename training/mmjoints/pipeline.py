"""mmJoints end to end: windows, ground-truth descriptors, the point-cloud baseline, training of
the mmJoints model, and the evaluation of both applications (refined pose, activity recognition).

Entry point :func:`run_mmjoints` (``train --model mmjoints``).
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

from training.metrics.pose_errors import mpjpe, pck
from training.mmjoints.config import MmJointsConfig
from training.mmjoints.descriptors import (
    calibrate_intensity_scale,
    ground_truth_descriptors,
    smape,
    torso_lengths,
    wmape,
)
from training.mmjoints.gmm import GaussianMixture, select_gmm_bic
from training.mmjoints.models import (
    ActivityLSTM,
    MmJoints,
    PointCloudPoseBaseline,
    batch_hard_triplet,
    hungarian_l1_loss,
    orthonormal_basis,
    signal_kl,
)
from training.mmjoints.pointdata import pad_point_frames, rig_points
from training.mmjoints.predictions import write_predictions


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@dataclass
class Windows:
    """K-frame point windows ending at a labelled frame (S samples).

    Attributes:
        points: (S, K, N, 5) rig-frame points (x, y, z, doppler, intensity), zero-padded.
        mask: (S, K, N).
        last_points: S arrays (P, 5): every point of the target (last) frame.
        gt: (S, J, 3) ground-truth joints, metres.
        seq: (S,) sequence ids; frame: (S,) target frame; action: (S,) action names.
    """

    points: NDArray[np.float32]
    mask: NDArray[np.bool_]
    last_points: list[NDArray[np.float32]]
    gt: NDArray[np.float64]
    seq: NDArray[np.str_]
    frame: NDArray[np.int64]
    action: NDArray[np.str_]

    def __len__(self) -> int:
        return len(self.frame)

    def subset(self, index: NDArray[np.int64]) -> Windows:
        """The windows at ``index`` (in that order)."""
        return Windows(
            self.points[index],
            self.mask[index],
            [self.last_points[i] for i in index],
            self.gt[index],
            self.seq[index],
            self.frame[index],
            self.action[index],
        )


def collect_windows(
    source: Any, seq_ids: Sequence[str], cfg: MmJointsConfig, *, rng: np.random.Generator | None
) -> Windows:
    """Every window of ``seq_ids`` whose target frame has complete ground truth."""
    k = cfg.data.window
    pts, masks, last, gts, seqs, frames, actions = [], [], [], [], [], [], []
    for seq_id in seq_ids:
        seq = source.sequence(seq_id)
        gt = np.asarray(seq.labels(cfg.data.skeleton)["keypoints_3d"], np.float64)
        frames_pts = rig_points(seq, 0, seq.num_frames, radars=cfg.data.radars)
        for t in range(k - 1, seq.num_frames):
            if not np.isfinite(gt[t]).all():
                continue
            p, m = pad_point_frames(frames_pts[t - k + 1 : t + 1], cfg.data.max_points, rng=rng)
            pts.append(p)
            masks.append(m)
            last.append(frames_pts[t])
            gts.append(gt[t])
            seqs.append(seq_id)
            frames.append(t)
            actions.append(str(seq.attrs.get("action", "")))
    if not pts:
        raise ValueError(f"no labelled windows of {cfg.data.window} frames in {list(seq_ids)}")
    return Windows(
        np.stack(pts),
        np.stack(masks),
        last,
        np.stack(gts),
        np.array(seqs),
        np.array(frames, np.int64),
        np.array(actions),
    )


def root_of(joints: NDArray[np.float64], landmarks: Sequence[str]) -> NDArray[np.float64]:
    """(..., J, 3) -> (..., 3) mid-hips."""
    names = list(landmarks)
    hips = [names.index("left_hip"), names.index("right_hip")]
    return np.asarray(joints[..., hips, :].mean(-2), np.float64)


def network_points(
    points: NDArray[np.float32], mask: NDArray[np.bool_], origin: NDArray[np.float64], scale: float
) -> NDArray[np.float32]:
    """Points as network input: xyz relative to ``origin`` (S, 3), log-compressed intensity."""
    out = points.copy()
    out[..., :3] -= origin[:, None, None, :].astype(np.float32)
    out[..., 4] = np.log1p(np.maximum(out[..., 4], 0.0) / scale)
    out[~mask] = 0.0
    return out


# --- the point-cloud baseline ---------------------------------------------------------------


def _centroids(w: Windows) -> NDArray[np.float64]:
    m = w.mask[..., None]
    s = (w.points[..., :3] * m).sum((1, 2))
    n = m.sum((1, 2))
    out = np.where(n > 0, s / np.maximum(n, 1), np.nan)
    # windows without points: the sequence's mean centroid
    for seq in np.unique(w.seq):
        sel = w.seq == seq
        fallback = np.nanmean(out[sel], axis=0) if np.isfinite(out[sel]).any() else np.zeros(3)
        out[sel] = np.where(np.isfinite(out[sel]), out[sel], fallback)
    return np.asarray(out, np.float64)


def train_baseline(
    train: Windows, cfg: MmJointsConfig, scale: float, device: torch.device, log: Any = print
) -> PointCloudPoseBaseline:
    """Fit :class:`PointCloudPoseBaseline` (L1 on joints) on ``train``."""
    m = cfg.model
    model = PointCloudPoseBaseline(train.gt.shape[1], m.hidden, m.attention_heads, 1).to(device)
    cen = _centroids(train)
    x = torch.as_tensor(network_points(train.points, train.mask, cen, scale), device=device)
    mk = torch.as_tensor(train.mask, device=device)
    y = torch.as_tensor((train.gt - cen[:, None]).astype(np.float32), device=device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.optim.lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    for epoch in range(cfg.optim.baseline_epochs):
        perm = torch.randperm(len(x), generator=gen)
        total = 0.0
        for i in range(0, len(x), cfg.optim.batch_size):
            idx = perm[i : i + cfg.optim.batch_size].to(device)
            loss = F.l1_loss(model(x[idx], mk[idx]), y[idx])
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
            total += float(loss.detach()) * len(idx)
        if epoch == 0 or epoch == cfg.optim.baseline_epochs - 1:
            log(f"baseline epoch {epoch + 1}: L1 {total / len(x):.4f} m")
    return model


@torch.no_grad()
def baseline_predictions(
    model: PointCloudPoseBaseline,
    source: Any,
    seq_ids: Sequence[str],
    cfg: MmJointsConfig,
    scale: float,
    device: torch.device,
) -> dict[str, NDArray[np.float64]]:
    """seq -> (F, J, 3) baseline joints (NaN where no window ends)."""
    model.eval()
    w = collect_windows(source, seq_ids, cfg, rng=None)
    cen = _centroids(w)
    x = torch.as_tensor(network_points(w.points, w.mask, cen, scale), device=device)
    pred = model(x, torch.as_tensor(w.mask, device=device)).cpu().numpy() + cen[:, None]
    out: dict[str, NDArray[np.float64]] = {}
    for seq_id in seq_ids:
        seq = source.sequence(seq_id)
        j = np.asarray(seq.labels(cfg.data.skeleton)["keypoints_3d"]).shape[1]
        arr = np.full((seq.num_frames, j, 3), np.nan)
        sel = w.seq == seq_id
        arr[w.frame[sel]] = pred[sel]
        out[seq_id] = arr
    return out


def cross_fitted_predictions(
    source: Any,
    train_ids: Sequence[str],
    train_windows: Windows,
    cfg: MmJointsConfig,
    scale: float,
    device: torch.device,
    log: Any = print,
) -> dict[str, NDArray[np.float64]]:
    """Baseline predictions of the training sequences from baselines that did not see them:
    the training subjects are split into ``optim.baseline_cross_fit_folds`` folds and each
    fold is predicted by a baseline trained on the others. Without it, the base poses of the
    training set are nearly exact (the baseline fits its training data), so mmJoints learns
    kappa ~ 1 and no corrections, and meets much larger errors at test time. Empty when
    cross-fitting is off or there are fewer than 2 subjects."""
    folds = cfg.optim.baseline_cross_fit_folds
    subject = {s: str(source.sequence(s).attrs.get("subject", s)) for s in train_ids}
    subjects = sorted(set(subject.values()))
    if folds < 2 or len(subjects) < 2:
        return {}
    fold_of = {name: i % min(folds, len(subjects)) for i, name in enumerate(subjects)}
    out: dict[str, NDArray[np.float64]] = {}
    for k in sorted(set(fold_of.values())):
        held = [s for s in train_ids if fold_of[subject[s]] == k]
        keep = np.flatnonzero(~np.isin(train_windows.seq, held))
        part = train_windows.subset(keep)
        log(f"cross-fitting fold {k + 1}: baseline on {len(part)} windows, predicts {held}")
        model = train_baseline(part, cfg, scale, device, log)
        out.update(baseline_predictions(model, source, held, cfg, scale, device))
    return out


# --- mmJoints ---------------------------------------------------------------------------------


@dataclass
class PoseClusters:
    """A GMM over PCA coordinates of root-relative poses (full covariances in the J*3-D pose
    space are not identifiable from a few hundred poses)."""

    mean: NDArray[np.float64]  # (J*3,)
    components: NDArray[np.float64]  # (d, J*3) PCA directions
    gmm: GaussianMixture

    @property
    def num_components(self) -> int:
        return self.gmm.num_components

    def predict(self, poses: NDArray[np.float64]) -> NDArray[np.int64]:
        """(S, J*3) -> (S,) cluster."""
        return self.gmm.predict((poses - self.mean) @ self.components.T)

    def pose_means(self) -> NDArray[np.float64]:
        """(C, J*3) cluster centres as poses."""
        return np.asarray(self.mean + self.gmm.means @ self.components, np.float64)


def fit_pose_gmm(
    poses: NDArray[np.float64],
    max_clusters: int,
    *,
    seed: int,
    dims: int = 6,
    max_samples: int = 600,
) -> tuple[PoseClusters, dict[int, float]]:
    """GMM + BIC over 1..``max_clusters`` components on the poses' first ``dims`` PCA axes."""
    mean = poses.mean(0)
    _, _, vt = np.linalg.svd(poses - mean, full_matrices=False)
    comps = vt[: min(dims, vt.shape[0])]
    sub = poses[:: max(1, len(poses) // max_samples)]
    gmm, bics = select_gmm_bic((sub - mean) @ comps.T, range(1, max_clusters + 1), seed=seed)
    return PoseClusters(mean, comps, gmm), bics


@dataclass
class Prepared:
    """Network inputs and targets of one split (tensors on the device)."""

    points: torch.Tensor  # (S, K, N, 5) relative to the base pose's root
    mask: torch.Tensor  # (S, K, N)
    base_rel: torch.Tensor  # (S, J*3) base pose relative to its root
    gt_rel: torch.Tensor  # (S, J*3) ground truth relative to the base pose's root
    gt_pose_rel: torch.Tensor  # (S, J*3) ground truth relative to its own root (pose shape)
    xi: torch.Tensor  # (S, J)
    xi_obs: torch.Tensor  # (S, J) sensing score measured at the base joints (a model input)
    kappa: torch.Tensor  # (S, J)
    cluster: torch.Tensor  # (S,)
    root: NDArray[np.float64]  # (S, 3) base root, rig frame
    windows: Windows


def prepare(
    w: Windows,
    base: dict[str, NDArray[np.float64]],
    landmarks: Sequence[str],
    cfg: MmJointsConfig,
    *,
    torso: float,
    iscale: float,
    gmm: Any,
    device: torch.device,
) -> Prepared:
    """Descriptors and normalised tensors for the windows with a base prediction."""
    base_kp = np.stack([base[s][f] for s, f in zip(w.seq, w.frame, strict=True)])
    keep = np.isfinite(base_kp).all(axis=(1, 2))
    sel = np.flatnonzero(keep)
    w = w.subset(sel)
    base_kp = base_kp[sel]
    xi, kappa = ground_truth_descriptors(
        w.last_points,
        w.gt,
        base_kp,
        torso_length=torso,
        length_unit_m=cfg.data.length_unit_m,
        intensity_scale=iscale,
        min_distance_m=cfg.data.min_point_distance_m,
    )
    xi = np.nan_to_num(xi, nan=0.5)
    # the same formula around the base model's joints: what the points say without ground truth
    xi_obs, _ = ground_truth_descriptors(
        w.last_points,
        base_kp,
        base_kp,
        torso_length=torso,
        length_unit_m=cfg.data.length_unit_m,
        intensity_scale=iscale,
        min_distance_m=cfg.data.min_point_distance_m,
    )
    xi_obs = np.nan_to_num(xi_obs, nan=0.5)
    root = root_of(base_kp, landmarks)
    gt_root = root_of(w.gt, landmarks)
    gt_pose = (w.gt - gt_root[:, None]).reshape(len(sel), -1)
    pts = network_points(w.points, w.mask, root, iscale)

    def t(a: NDArray[Any], dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(a), dtype=dtype, device=device)

    return Prepared(
        points=t(pts),
        mask=t(w.mask, torch.bool),
        base_rel=t((base_kp - root[:, None]).reshape(len(sel), -1)),
        gt_rel=t((w.gt - root[:, None]).reshape(len(sel), -1)),
        gt_pose_rel=t(gt_pose),
        xi=t(xi),
        xi_obs=t(xi_obs),
        kappa=t(kappa),
        cluster=t(gmm.predict(gt_pose), torch.long),
        root=root,
        windows=w,
    )


def mixture_targets(
    gt_pose: torch.Tensor, mu_s: torch.Tensor, logvar_s: torch.Tensor, m: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Target mixture of each sample: the signal Gaussians of the ``m`` batch samples whose poses
    are closest to its pose (itself included), equal weights. -> ((B, m, 2 D_S), (B, m))."""
    m = min(m, len(gt_pose))
    nn_idx = torch.cdist(gt_pose, gt_pose).topk(m, largest=False).indices  # (B, m)
    params = torch.cat([mu_s, logvar_s], -1).detach()[nn_idx]
    return params, torch.full(nn_idx.shape, 1.0 / m, device=gt_pose.device)


def mmjoints_losses(
    model: MmJoints, batch: dict[str, torch.Tensor], cfg: MmJointsConfig
) -> tuple[torch.Tensor, dict[str, float]]:
    """All losses of one batch; modules downstream of the signal/pose encoders see detached
    inputs, so each loss trains its own module."""
    mc = cfg.model
    recon, z_mu, z_logvar = model.vae(batch["gt_pose_rel"])
    zeros = torch.zeros_like(z_mu)
    from training.mmjoints.divergence import kl_diag_gaussians

    vae = (
        F.mse_loss(recon, batch["gt_pose_rel"])
        + mc.kl_weight * kl_diag_gaussians(z_mu, z_logvar, zeros, zeros).mean()
        + mc.orthogonal_weight * model.vae.orthogonal_loss()
    )
    out = model(batch["points"], batch["mask"], batch["base_rel"], batch["xi_obs"])
    triplet = batch_hard_triplet(out["mu_s"], batch["cluster"], mc.triplet_margin)
    ce = F.cross_entropy(out["cluster_logits"], batch["cluster"])
    kl = signal_kl(out["mu_s"], out["logvar_s"])
    signal = triplet + ce + mc.kl_weight * kl
    # generator from the ground-truth pose's latent during training (the base pose at test)
    z_gt, _ = model.vae.encode(batch["gt_pose_rel"])
    phi, mu_c, logvar_c = model.generator(z_gt.detach())
    tp, tw = mixture_targets(
        batch["gt_pose_rel"], out["mu_s"], out["logvar_s"], mc.mixture_components
    )
    pred_params = torch.cat([mu_c, logvar_c], -1)
    if tp.shape[1] < pred_params.shape[1]:
        pred_params, phi = pred_params[:, : tp.shape[1]], phi[:, : tp.shape[1]]
    mixture = hungarian_l1_loss(pred_params, phi, tp, tw)
    # refinement and descriptors: trained on detached conditions
    cond = out["cond"].detach()
    x = torch.cat([batch["base_rel"], cond], -1)
    refined = batch["base_rel"] + model.refiner(x)
    huber = F.huber_loss(refined, batch["gt_rel"], delta=mc.huber_delta)
    xi, kappa = model.descriptors(x, batch["xi_obs"])
    desc = F.mse_loss(xi, batch["xi"]) + F.mse_loss(kappa, batch["kappa"])
    total = vae + signal + mixture + huber + desc
    parts = {
        "vae": float(vae.detach()),
        "triplet": float(triplet.detach()),
        "ce": float(ce.detach()),
        "signal_kl": float(kl.detach()),
        "mixture_l1": float(mixture.detach()),
        "huber": float(huber.detach()),
        "descriptor_mse": float(desc.detach()),
        "bound": float(out["bound"].detach().mean()),
    }
    return total, parts


def _batches(p: Prepared, idx: torch.Tensor) -> dict[str, torch.Tensor]:
    return {
        "points": p.points[idx],
        "mask": p.mask[idx],
        "base_rel": p.base_rel[idx],
        "gt_rel": p.gt_rel[idx],
        "gt_pose_rel": p.gt_pose_rel[idx],
        "xi": p.xi[idx],
        "xi_obs": p.xi_obs[idx],
        "kappa": p.kappa[idx],
        "cluster": p.cluster[idx],
    }


def train_mmjoints(
    model: MmJoints, train: Prepared, cfg: MmJointsConfig, log: Any = print
) -> list[dict[str, float]]:
    """Adam over all losses; returns the mean loss parts of every epoch."""
    opt = torch.optim.Adam(model.parameters(), lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    history: list[dict[str, float]] = []
    n = len(train.cluster)
    for epoch in range(cfg.optim.epochs):
        model.train()
        perm = torch.randperm(n, generator=gen)
        sums: dict[str, float] = {}
        count = 0
        for i in range(0, n - 1, cfg.optim.batch_size):
            idx = perm[i : i + cfg.optim.batch_size].to(train.points.device)
            if len(idx) < 2:
                continue
            loss, parts = mmjoints_losses(model, _batches(train, idx), cfg)
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + v * len(idx)
            count += len(idx)
        history.append({k: v / max(count, 1) for k, v in sums.items()})
        if epoch in (0, cfg.optim.epochs - 1) or (epoch + 1) % 10 == 0:
            log(
                f"mmjoints epoch {epoch + 1}: "
                + " ".join(f"{k} {v:.4f}" for k, v in history[-1].items())
            )
    return history


@torch.no_grad()
def infer(model: MmJoints, p: Prepared, batch_size: int = 256) -> dict[str, NDArray[np.float64]]:
    """Refined poses (S, J, 3) rig frame, xi / kappa (S, J), bound (S,)."""
    model.eval()
    outs: dict[str, list[NDArray[Any]]] = {"refined": [], "xi": [], "kappa": [], "bound": []}
    for i in range(0, len(p.cluster), batch_size):
        sl = slice(i, i + batch_size)
        o = model(p.points[sl], p.mask[sl], p.base_rel[sl], p.xi_obs[sl])
        for k in outs:
            outs[k].append(o[k].cpu().numpy())
    res = {k: np.concatenate(v).astype(np.float64) for k, v in outs.items()}
    j = p.xi.shape[1]
    res["refined"] = res["refined"].reshape(-1, j, 3) + p.root[:, None]
    return res


def pose_report(
    pred: NDArray[np.float64], gt: NDArray[np.float64], thresholds: Sequence[float]
) -> dict[str, float]:
    """MPJPE (m), MAE (mean absolute coordinate error, m) and PCK@threshold (%)."""
    valid = np.isfinite(gt).all(-1) & np.isfinite(pred).all(-1)
    rep = {"MPJPE_m": mpjpe(pred, gt, valid), "MAE_m": float(np.abs(pred - gt)[valid].mean())}
    for t in thresholds:
        rep[f"PCK@{t:g}m"] = 100.0 * pck(pred, gt, valid, t)
    return rep


# --- activity recognition ---------------------------------------------------------------------


def activity_windows(
    w: Windows, features: NDArray[np.float64], window: int, stride: int, classes: list[str]
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Windows of ``window`` consecutive samples of one sequence: (Q, window, F), labels (Q,)."""
    xs, ys = [], []
    for seq in np.unique(w.seq):
        idx = np.flatnonzero(w.seq == seq)
        idx = idx[np.argsort(w.frame[idx])]
        for s in range(0, len(idx) - window + 1, stride):
            xs.append(features[idx[s : s + window]])
            ys.append(classes.index(str(w.action[idx[s]])))
    if not xs:
        return np.zeros((0, window, features.shape[1]), np.float32), np.zeros(0, np.int64)
    return np.stack(xs).astype(np.float32), np.array(ys, np.int64)


def activity_accuracy(
    train_x: NDArray[np.float32],
    train_y: NDArray[np.int64],
    test_x: NDArray[np.float32],
    test_y: NDArray[np.int64],
    classes: int,
    cfg: MmJointsConfig,
    device: torch.device,
) -> float:
    """Train :class:`ActivityLSTM` on the training windows; accuracy (%) on the test windows."""
    torch.manual_seed(cfg.seed + 7)
    mu, sd = (
        train_x.reshape(-1, train_x.shape[-1]).mean(0),
        train_x.reshape(-1, train_x.shape[-1]).std(0) + 1e-6,
    )
    x = torch.as_tensor((train_x - mu) / sd, device=device)
    y = torch.as_tensor(train_y, device=device)
    model = ActivityLSTM(x.shape[-1], cfg.activity.hidden, classes).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.optim.lr)
    gen = torch.Generator().manual_seed(cfg.seed + 8)
    for _ in range(cfg.optim.activity_epochs):
        perm = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), cfg.optim.batch_size):
            idx = perm[i : i + cfg.optim.batch_size].to(device)
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
    model.eval()
    with torch.no_grad():
        pred = model(torch.as_tensor((test_x - mu) / sd, device=device)).argmax(1).cpu().numpy()
    return float(100.0 * (pred == test_y).mean()) if len(test_y) else float("nan")


# --- the run ----------------------------------------------------------------------------------


def run_mmjoints(
    cfg: MmJointsConfig,
    source: Any,
    *,
    base: str | None,
    out: Path,
    split: str = "by_sequence",
    log: Any = print,
) -> dict[str, Any]:
    """Train mmJoints around a base model and evaluate both applications on the test split.

    Args:
        base: predictions file (``predictions.load_predictions``), or ``None`` / ``"baseline"``
            to train the point-cloud baseline on the training split first (its predictions are
            written to ``out/base_predictions.npz``).
        out: run directory (``mmjoints.pt``, ``report.json``).
    """
    from labeling.skeletons import get_schema
    from training.mmjoints.predictions import load_predictions
    from training.seeding import seed_everything

    t0 = time.perf_counter()
    seed_everything(cfg.seed)
    device = pick_device(cfg.device)
    out.mkdir(parents=True, exist_ok=True)
    landmarks = get_schema(cfg.data.skeleton).landmarks
    parts = source.splits[split]
    train_ids, test_ids = list(parts["train"]), list(parts["test"]) or list(parts.get("val", []))
    if not train_ids or not test_ids:
        raise ValueError(f"split {split!r} needs train and test sequences")
    rng = np.random.default_rng(cfg.seed)
    tr_w = collect_windows(source, train_ids, cfg, rng=rng)
    te_w = collect_windows(source, test_ids, cfg, rng=None)
    unit = cfg.data.length_unit_m
    torso = cfg.data.torso_length or float(np.nanmean(torso_lengths(tr_w.gt, landmarks)) / unit)
    iscale = cfg.data.intensity_scale or calibrate_intensity_scale(
        tr_w.last_points,
        list(tr_w.gt),
        length_unit_m=unit,
        min_distance_m=cfg.data.min_point_distance_m,
    )
    log(
        f"{len(tr_w)} training / {len(te_w)} test windows; D0 = {torso:.2f} x {unit} m; "
        f"intensity scale {iscale:.4g}"
    )
    if base in (None, "baseline"):
        bl = train_baseline(tr_w, cfg, iscale, device, log)
        base_preds = baseline_predictions(bl, source, test_ids, cfg, iscale, device)
        base_preds.update(
            cross_fitted_predictions(source, train_ids, tr_w, cfg, iscale, device, log)
            or baseline_predictions(bl, source, train_ids, cfg, iscale, device)
        )
        write_predictions(
            out / "base_predictions.npz",
            base_preds,
            {"model": "mmjoints-point-baseline", "skeleton": cfg.data.skeleton},
        )
        base_name = "point-cloud baseline"
    else:
        base_preds = load_predictions(
            base, source, train_ids + test_ids, skeleton=cfg.data.skeleton
        )
        base_name = str(base)
    gt_pose = (tr_w.gt - root_of(tr_w.gt, landmarks)[:, None]).reshape(len(tr_w), -1)
    gmm, bics = fit_pose_gmm(gt_pose, cfg.model.gmm_max_clusters, seed=cfg.seed)
    clusters = gmm.num_components
    log(f"GMM + BIC on training poses: {clusters} clusters (BIC {bics})")
    centres = gmm.pose_means()
    basis = orthonormal_basis(centres, cfg.model.pose_basis, seed=cfg.seed)
    tr = prepare(
        tr_w, base_preds, landmarks, cfg, torso=torso, iscale=iscale, gmm=gmm, device=device
    )
    te = prepare(
        te_w, base_preds, landmarks, cfg, torso=torso, iscale=iscale, gmm=gmm, device=device
    )
    mc = cfg.model
    model = MmJoints(
        num_joints=len(landmarks),
        hidden=mc.hidden,
        heads=mc.attention_heads,
        layers=mc.attention_layers,
        signal_dim=mc.signal_dim,
        components=mc.mixture_components,
        basis=basis,
        mean_pose=gt_pose.mean(0),
        n_clusters=clusters,
    ).to(device)
    history = train_mmjoints(model, tr, cfg, log)
    torch.save(
        {
            "kind": "mmjoints",
            "config": cfg.to_dict(),
            "model": model.state_dict(),
            "torso_length": torso,
            "intensity_scale": iscale,
            "clusters": clusters,
        },
        out / "mmjoints.pt",
    )
    # --- evaluation ---
    res_te, res_tr = infer(model, te), infer(model, tr)
    gt_xi, gt_kappa = te.xi.cpu().numpy(), te.kappa.cpu().numpy()
    mean_xi, mean_kappa = tr.xi.mean(0).cpu().numpy(), tr.kappa.mean(0).cpu().numpy()
    base_te = te.base_rel.cpu().numpy().reshape(-1, len(landmarks), 3) + te.root[:, None]
    thr = cfg.data.pck_thresholds_m
    report: dict[str, Any] = {
        "base_model": base_name,
        "train_windows": len(tr.cluster),
        "test_windows": len(te.cluster),
        "torso_length_D0": torso,
        "length_unit_m": unit,
        "intensity_scale": iscale,
        "min_point_distance_m": cfg.data.min_point_distance_m,
        "gmm_clusters": clusters,
        "gmm_bic": bics,
        "descriptors": {
            "xi": {"sMAPE_%": smape(res_te["xi"], gt_xi), "wMAPE_%": wmape(res_te["xi"], gt_xi)},
            "kappa": {
                "sMAPE_%": smape(res_te["kappa"], gt_kappa),
                "wMAPE_%": wmape(res_te["kappa"], gt_kappa),
            },
            "training_mean_baseline": {
                "xi_sMAPE_%": smape(np.broadcast_to(mean_xi, gt_xi.shape), gt_xi),
                "kappa_sMAPE_%": smape(np.broadcast_to(mean_kappa, gt_kappa.shape), gt_kappa),
            },
        },
        "refined_pose": {
            "before": pose_report(base_te, te.windows.gt, thr),
            "after": pose_report(res_te["refined"], te.windows.gt, thr),
        },
        "losses_first_epoch": history[0],
        "losses_last_epoch": history[-1],
    }
    classes = sorted({str(a) for a in tr.windows.action})
    if len(classes) > 1:
        j = len(landmarks)
        feats = {}
        for name, prep, res in (("train", tr, res_tr), ("test", te, res_te)):
            pose = prep.base_rel.cpu().numpy()
            feats[name] = (pose, np.concatenate([pose, res["xi"], res["kappa"]], -1))
        acc = {}
        for variant, col in (("pose_only", 0), ("pose_and_descriptors", 1)):
            trx, try_ = activity_windows(
                tr.windows, feats["train"][col], cfg.activity.window, cfg.activity.stride, classes
            )
            tex, tey = activity_windows(
                te.windows, feats["test"][col], cfg.activity.window, cfg.activity.stride, classes
            )
            acc[variant] = activity_accuracy(trx, try_, tex, tey, len(classes), cfg, device)
        report["activity_accuracy_%"] = {
            **acc,
            "classes": classes,
            "test_windows": len(tey),
            "joints": j,
        }
    report["wall_s"] = time.perf_counter() - t0
    (out / "report.json").write_text(json.dumps(report, indent=2, default=float))
    return report
