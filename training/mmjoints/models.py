"""mmJoints networks (torch): point-sequence encoder, pose VAE with an orthogonal pose basis,
latent signal GMM generator, surrogate refiner, two-branch descriptor head, activity LSTM, and the
point-cloud baseline pose model. Shapes: B batch, K frames, N points per frame, C point
channels, J joints, D_p pose basis, D_S signal latent, M mixture components.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment
from torch import nn

from training.mmjoints.divergence import kl_diag_gaussians, weighted_jeffrey_bound


def mlp(sizes: list[int], *, last_activation: bool = False) -> nn.Sequential:
    """Linear layers with ReLU between them (and after the last with ``last_activation``)."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2 or last_activation:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class PointSequenceEncoder(nn.Module):
    """Point-4D-Transformer-style encoder: every point of the K frames is a token embedded from
    its features plus a learned embedding of its 4-D position (x, y, z, t); self-attention over
    all tokens of the window (padding masked); masked mean + max pooling.

    ``forward(points (B, K, N, C), mask (B, K, N)) -> (B, 2 * hidden)``.
    """

    def __init__(self, in_channels: int, hidden: int, heads: int, layers: int) -> None:
        super().__init__()
        self.embed = mlp([in_channels, hidden, hidden])
        self.position = mlp([4, hidden, hidden])
        layer = nn.TransformerEncoderLayer(
            hidden, heads, dim_feedforward=2 * hidden, dropout=0.0, batch_first=True
        )
        self.transformer = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.out_dim = 2 * hidden

    def forward(self, points: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, k, n, _ = points.shape
        t = torch.linspace(-1.0, 1.0, k, device=points.device).view(1, k, 1, 1).expand(b, k, n, 1)
        pos = torch.cat([points[..., :3], t], dim=-1)
        tokens = (self.embed(points) + self.position(pos)).reshape(b, k * n, -1)
        m = mask.reshape(b, k * n)
        # a window without any point still needs one token to attend to
        m = m | (~m.any(1, keepdim=True) & (torch.arange(k * n, device=m.device) == 0))
        h = self.transformer(tokens, src_key_padding_mask=~m)
        mf = m.unsqueeze(-1).to(h.dtype)
        mean = (h * mf).sum(1) / mf.sum(1).clamp_min(1.0)
        mx = h.masked_fill(~m.unsqueeze(-1), -1e4).max(1).values
        return torch.cat([mean, mx], dim=-1)


class SignalEncoder(nn.Module):
    """Gaussian over the signal latent of a K-frame point window, plus a pose-cluster classifier.

    ``forward(points, mask) -> (mu (B, D_S), logvar (B, D_S), cluster logits (B, n_clusters))``.
    """

    def __init__(
        self, in_channels: int, hidden: int, heads: int, layers: int, dim: int, n_clusters: int
    ) -> None:
        super().__init__()
        self.encoder = PointSequenceEncoder(in_channels, hidden, heads, layers)
        self.gaussian = nn.Linear(self.encoder.out_dim, 2 * dim)
        self.classifier = nn.Linear(dim, n_clusters)

    def forward(
        self, points: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.gaussian(self.encoder(points, mask)).chunk(2, dim=-1)
        logvar = logvar.clamp(-8.0, 8.0)
        return mu, logvar, self.classifier(mu)


def orthonormal_basis(
    cluster_means: NDArray[np.float64], size: int, *, seed: int = 0
) -> NDArray[np.float64]:
    """(size, D) orthonormal rows spanning the centred cluster means first, completed with random
    directions (QR)."""
    means = np.asarray(cluster_means, np.float64)
    d = means.shape[1]
    if size > d:
        raise ValueError(f"pose basis of {size} needs pose dimension >= {size}, got {d}")
    rng = np.random.default_rng(seed)
    centred = means - means.mean(0, keepdims=True) if len(means) > 1 else means
    cols = np.concatenate([centred.T, rng.normal(size=(d, size))], axis=1)
    q, _ = np.linalg.qr(cols)
    return np.asarray(q[:, :size].T, np.float64)


class PoseVAE(nn.Module):
    """VAE over root-relative poses whose decoder is a learnable basis of D_p cluster poses:
    pose = mean_pose + z @ basis.

    ``forward(pose (B, J*3)) -> (recon (B, J*3), mu (B, D_p), logvar (B, D_p))``.
    """

    mean_pose: torch.Tensor

    def __init__(
        self, pose_dim: int, hidden: int, basis: NDArray[np.float64], mean_pose: NDArray[np.float64]
    ) -> None:
        super().__init__()
        self.encoder = mlp([pose_dim, hidden, hidden, 2 * basis.shape[0]])
        self.basis = nn.Parameter(torch.as_tensor(basis, dtype=torch.float32))
        self.register_buffer("mean_pose", torch.as_tensor(mean_pose, dtype=torch.float32))

    def encode(self, pose: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(pose).chunk(2, dim=-1)
        return mu, logvar.clamp(-8.0, 8.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.mean_pose + z @ self.basis

    def forward(self, pose: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(pose)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        return self.decode(z), mu, logvar

    def orthogonal_loss(self) -> torch.Tensor:
        """|| B B^T - I ||^2 (mean over entries): keeps the basis orthonormal."""
        g = self.basis @ self.basis.T
        return ((g - torch.eye(g.shape[0], device=g.device)) ** 2).mean()


class LatentMixtureGenerator(nn.Module):
    """The signal latent distribution expected for a pose, as an M-component diagonal GMM.

    ``forward(pose latent (B, D_p)) -> (phi (B, M), mu (B, M, D_S), logvar (B, M, D_S))``.
    """

    def __init__(self, pose_latent: int, hidden: int, dim: int, components: int) -> None:
        super().__init__()
        self.components, self.dim = components, dim
        self.net = mlp([pose_latent, hidden, hidden, components * (1 + 2 * dim)])

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out = self.net(z).view(z.shape[0], self.components, 1 + 2 * self.dim)
        phi = torch.softmax(out[..., 0], dim=-1)
        mu, logvar = out[..., 1 : 1 + self.dim], out[..., 1 + self.dim :].clamp(-8.0, 8.0)
        return phi, mu, logvar


def hungarian_l1_loss(
    pred_params: torch.Tensor,
    pred_weights: torch.Tensor,
    target_params: torch.Tensor,
    target_weights: torch.Tensor,
) -> torch.Tensor:
    """L1 between predicted and target mixture components after Hungarian matching (so the loss
    does not depend on the order of either set).

    Args:
        pred_params, target_params: (B, M, P) component parameters (e.g. [mu, logvar]).
        pred_weights, target_weights: (B, M) mixture weights.

    Returns:
        scalar: mean over samples of (mean matched parameter L1 + matched weight L1).
    """
    cost = (pred_params[:, :, None] - target_params[:, None]).abs().mean(-1)  # (B, M, M)
    cost = cost + (pred_weights[:, :, None] - target_weights[:, None]).abs()
    rows, cols = [], []
    for c in cost.detach().cpu().numpy():
        r, k = linear_sum_assignment(c)
        rows.append(torch.as_tensor(r))
        cols.append(torch.as_tensor(k))
    bidx = torch.arange(cost.shape[0]).repeat_interleave(cost.shape[1])
    matched = cost[bidx, torch.cat(rows), torch.cat(cols)]
    return matched.view(cost.shape[0], -1).mean(-1).mean()


def batch_hard_triplet(
    embeddings: torch.Tensor, labels: torch.Tensor, margin: float
) -> torch.Tensor:
    """Batch-hard triplet loss; a sample is never its own positive. (B, D), (B,) -> scalar
    (0 when no anchor has both a positive and a negative)."""
    d = torch.cdist(embeddings, embeddings)
    same = labels[:, None] == labels[None]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    pos = same & ~eye
    neg = ~same
    ok = pos.any(1) & neg.any(1)
    if not ok.any():
        return embeddings.sum() * 0.0
    hardest_pos = d.masked_fill(~pos, -1.0).max(1).values
    hardest_neg = d.masked_fill(~neg, float("inf")).min(1).values
    return F.relu(hardest_pos - hardest_neg + margin)[ok].mean()


class MmJoints(nn.Module):
    """The whole mmJoints model around a black-box pose estimator.

    Inputs of :meth:`forward`: points (B, K, N, 5) relative to the base pose's root, mask
    (B, K, N), base pose (B, J*3) root-relative, xi_obs (B, J) the sensing score measured at the
    base joints (see :meth:`descriptors`). Outputs: the signal Gaussian, the generated
    mixture, the weighted Jeffrey bound (B,), the condition vector (B, D_C = 2 D_S + 1), refined
    root-relative pose (B, J*3), descriptors xi and kappa (B, J).
    """

    def __init__(
        self,
        *,
        num_joints: int,
        hidden: int,
        heads: int,
        layers: int,
        signal_dim: int,
        components: int,
        basis: NDArray[np.float64],
        mean_pose: NDArray[np.float64],
        n_clusters: int,
    ) -> None:
        super().__init__()
        pose_dim = 3 * num_joints
        self.num_joints = num_joints
        self.vae = PoseVAE(pose_dim, hidden, basis, mean_pose)
        self.signal = SignalEncoder(5, hidden, heads, layers, signal_dim, n_clusters)
        self.generator = LatentMixtureGenerator(basis.shape[0], hidden, signal_dim, components)
        self.cond_dim = 2 * signal_dim + 1
        self.refiner = mlp([pose_dim + self.cond_dim, hidden, hidden, pose_dim])
        head_in = pose_dim + self.cond_dim
        self.xi_head = nn.Sequential(mlp([head_in + num_joints, hidden, hidden, num_joints]))
        self.kappa_head = nn.Sequential(mlp([head_in, hidden, hidden, num_joints]))

    def descriptors(
        self, x: torch.Tensor, xi_obs: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(xi, kappa) (B, J) from the head input ``x`` = [base pose, condition] (B, P + D_C).

        ``xi_obs`` (B, J) is the sensing score measured around the *base* joints (the formula
        of :func:`~training.mmjoints.descriptors.sensing_score` with the predicted pose in place
        of the unknown ground truth); the xi branch predicts a correction of its logit.
        """
        prior = torch.logit(xi_obs.clamp(1e-3, 1.0 - 1e-3))
        xi = torch.sigmoid(prior + self.xi_head(torch.cat([x, xi_obs], dim=-1)))
        return xi, torch.sigmoid(self.kappa_head(x))

    def forward(
        self,
        points: torch.Tensor,
        mask: torch.Tensor,
        base_pose: torch.Tensor,
        xi_obs: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        mu_s, logvar_s, logits = self.signal(points, mask)
        z_mu, _ = self.vae.encode(base_pose)
        phi, mu_c, logvar_c = self.generator(z_mu)
        bound = weighted_jeffrey_bound(mu_s, logvar_s, phi, mu_c, logvar_c)
        mixture_mean = (phi.unsqueeze(-1) * mu_c).sum(1)
        cond = torch.cat([mu_s, mixture_mean, torch.log1p(bound).unsqueeze(-1)], dim=-1)
        x = torch.cat([base_pose, cond], dim=-1)
        xi, kappa = self.descriptors(x, xi_obs)
        return {
            "mu_s": mu_s,
            "logvar_s": logvar_s,
            "cluster_logits": logits,
            "phi": phi,
            "mu_c": mu_c,
            "logvar_c": logvar_c,
            "bound": bound,
            "cond": cond,
            "refined": base_pose + self.refiner(x),
            "xi": xi,
            "kappa": kappa,
        }


def signal_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Mean KL(N(mu, exp(logvar)) || N(0, I)) over the batch."""
    zeros = torch.zeros_like(mu)
    return kl_diag_gaussians(mu, logvar, zeros, zeros).mean()


class ActivityLSTM(nn.Module):
    """Activity classifier over a window of per-frame features: (B, W, F) -> (B, classes)."""

    def __init__(self, features: int, hidden: int, classes: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        logits: torch.Tensor = self.head(out[:, -1])
        return logits


class PointCloudPoseBaseline(nn.Module):
    """A simple radar pose model: K-frame point window (coordinates relative to the window's
    point centroid) -> root-relative joints plus the root. (B, K, N, 5), (B, K, N) -> (B, J, 3)."""

    def __init__(self, num_joints: int, hidden: int, heads: int, layers: int) -> None:
        super().__init__()
        self.num_joints = num_joints
        self.encoder = PointSequenceEncoder(5, hidden, heads, layers)
        self.head = mlp([self.encoder.out_dim, hidden, 3 * num_joints + 3])

    def forward(self, points: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.encoder(points, mask))
        root, rel = out[:, :3], out[:, 3:].view(-1, self.num_joints, 3)
        return rel + root[:, None]
