"""PRGCN: pose refinement by graph convolution over the skeleton (HuPR's refinement stage).

Each joint's initial heatmap becomes a node feature (a small shared conv encoder at 1/4
resolution, then a linear layer); graph convolutions ``X' = relu(A_hat X W) + X`` mix features
along the skeleton's edges with ``A_hat = D^-1/2 (A + I) D^-1/2``; a shared decoder turns each
node back into a heatmap correction added to the initial logits.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def normalized_adjacency(num_joints: int, edges: Sequence[tuple[int, int]]) -> torch.Tensor:
    """``D^-1/2 (A + I) D^-1/2`` (J, J) of an undirected graph with the given edges."""
    a = torch.eye(num_joints)
    for i, j in edges:
        a[i, j] = a[j, i] = 1.0
    d = a.sum(1).rsqrt()
    return d[:, None] * a * d[None, :]


class GraphConv(nn.Module):
    """One residual graph convolution over (B, J, F) node features."""

    def __init__(self, features: int, adjacency: torch.Tensor) -> None:
        super().__init__()
        self.linear = nn.Linear(features, features)
        self.norm = nn.LayerNorm(features)
        self.adjacency: torch.Tensor
        self.register_buffer("adjacency", adjacency)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mixed = torch.einsum("ij,bjf->bif", self.adjacency.to(x.dtype), self.linear(x))
        return x + F.relu(self.norm(mixed))


class PRGCN(nn.Module):
    """Heatmap refinement over a joint graph.

    Args:
        num_joints: J.
        edges: skeleton edges (joint index pairs).
        heatmap_size: (h, w), each divisible by 4.
        features: node feature size.
        layers: graph convolution layers.
    """

    def __init__(
        self,
        num_joints: int,
        edges: Sequence[tuple[int, int]],
        heatmap_size: tuple[int, int],
        *,
        features: int = 256,
        layers: int = 2,
    ) -> None:
        super().__init__()
        h, w = heatmap_size
        if h % 4 or w % 4:
            raise ValueError(f"PRGCN needs heatmap sides divisible by 4, got {heatmap_size}")
        self.grid = (16, h // 4, w // 4)
        flat = 16 * (h // 4) * (w // 4)
        self.encode = nn.Sequential(
            nn.Conv2d(1, 8, 3, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(8, 16, 3, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.Flatten(),
            nn.Linear(flat, features),
        )
        adjacency = normalized_adjacency(num_joints, edges)
        self.layers = nn.ModuleList(GraphConv(features, adjacency) for _ in range(layers))
        self.to_grid = nn.Linear(features, flat)
        self.decode = nn.Sequential(
            nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(8, 1, 4, stride=2, padding=1),
        )

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        """(N, J, h, w) initial logits -> (N, J, h, w) refined logits."""
        n, j, h, w = logits.shape
        x = self.encode(torch.sigmoid(logits).reshape(n * j, 1, h, w)).reshape(n, j, -1)
        for layer in self.layers:
            x = layer(x)
        delta = self.decode(self.to_grid(x).reshape(n * j, *self.grid)).reshape(n, j, h, w)
        out: torch.Tensor = logits + delta
        return out
