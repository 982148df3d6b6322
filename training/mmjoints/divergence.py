"""KL and Jeffrey divergences between diagonal Gaussians, and mmJoints' weighted Jeffrey bound.

For a signal distribution P_S and a mixture Q = sum_i phi_i P_ci (sum phi_i = 1), convexity of
KL gives KL(P_S || Q) <= sum_i phi_i KL(P_S || P_ci) and KL(Q || P_S) <= sum_i phi_i
KL(P_ci || P_S), hence

    J(P_S, Q) = KL(P_S || Q) + KL(Q || P_S) <= sum_i phi_i J(P_S, P_ci),

which has a closed form (the mixture divergence has none).
"""

from __future__ import annotations

import torch


def kl_diag_gaussians(
    mu_p: torch.Tensor, logvar_p: torch.Tensor, mu_q: torch.Tensor, logvar_q: torch.Tensor
) -> torch.Tensor:
    """KL(N(mu_p, var_p) || N(mu_q, var_q)) summed over the last axis: (..., D) -> (...)."""
    var_ratio = torch.exp(logvar_p - logvar_q)
    diff2 = (mu_q - mu_p) ** 2 * torch.exp(-logvar_q)
    return 0.5 * (var_ratio + diff2 - 1.0 + logvar_q - logvar_p).sum(-1)


def jeffrey_diag_gaussians(
    mu_p: torch.Tensor, logvar_p: torch.Tensor, mu_q: torch.Tensor, logvar_q: torch.Tensor
) -> torch.Tensor:
    """J(P, Q) = KL(P||Q) + KL(Q||P): (..., D) -> (...)."""
    return kl_diag_gaussians(mu_p, logvar_p, mu_q, logvar_q) + kl_diag_gaussians(
        mu_q, logvar_q, mu_p, logvar_p
    )


def weighted_jeffrey_bound(
    mu_s: torch.Tensor,
    logvar_s: torch.Tensor,
    phi: torch.Tensor,
    mu_c: torch.Tensor,
    logvar_c: torch.Tensor,
) -> torch.Tensor:
    """sum_i phi_i J(P_S, P_ci) (module docstring).

    Args:
        mu_s, logvar_s: (B, D) signal Gaussian.
        phi: (B, C) mixture weights (rows sum to 1).
        mu_c, logvar_c: (B, C, D) mixture components.

    Returns:
        (B,) the bound.
    """
    j = jeffrey_diag_gaussians(mu_s[:, None], logvar_s[:, None], mu_c, logvar_c)
    return (phi * j).sum(-1)
