"""TDM-MIMO virtual array: which (TX slot, RX) channel sits where, as an azimuth row and a grid.

Virtual antenna ``v = slot * R + rx`` (the order of ``cube.reshape(..., T * R, K)``) sits at
``board.virtual_positions(tx_order, rx_channels)[v]`` in half wavelengths (x right, z up).
On the IWR1843BOOST with ``tx_order (0, 1, 2)`` the azimuth row (z == 0) is slots 0 and 2
(8 elements at x = 0..7) and slot 1 gives 4 elevated elements at x = 2..5, z = 1.

TDM-MIMO Doppler-induced phase: the TX slots of one loop fire ``chirp_period`` apart, so a target
with radial velocity ``v`` adds ``4 pi v * slot * T_chirp / lambda`` to every channel of ``slot``.
Across the virtual array this looks like an angle offset (up to a few degrees per m/s at 77 GHz).
Nothing here compensates by default (HuPR does not either); ``compensate_tdm_doppler`` removes it
from a Doppler spectrum given each bin's velocity, which is exact for targets within the
unambiguous velocity (no aliasing across ``+-v_max``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from acquisition.radar.params import RadarParams


@dataclass(frozen=True)
class VirtualArray:
    """Virtual antenna arrangement of one radar set-up.

    Attributes:
        positions: (T * R, 2) virtual (x, z) in half wavelengths, slot-major then RX.
        azimuth_channels: indices ``v`` of the virtual antennas with z == 0, sorted by x (first one
            kept when two channels share a position). Shape (n_azimuth,).
        grid_index: (n_rows, n_cols) virtual index at each grid position, -1 where empty. Row ``i``
            is z = ``z_min + i``, column ``j`` is x = ``x_min + j`` (half wavelengths).
        grid_mask: (n_rows, n_cols) True where a virtual antenna sits.
        x_min, z_min: position of grid column 0 / row 0, half wavelengths.
    """

    positions: NDArray[np.float64]
    azimuth_channels: NDArray[np.intp]
    grid_index: NDArray[np.intp]
    grid_mask: NDArray[np.bool_]
    x_min: float
    z_min: float

    @property
    def num_virtual(self) -> int:
        return int(self.positions.shape[0])

    @property
    def grid_shape(self) -> tuple[int, int]:
        return (int(self.grid_index.shape[0]), int(self.grid_index.shape[1]))

    def elevation_pairs(self) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.float64]]:
        """Channels of every grid position above row z == 0 with an azimuth-row partner below.

        Returns:
            (upper, lower, dz): virtual indices of the elevated channels, of the z == 0 channels at
            the same x, and their z distance in half wavelengths; each shape (P,).
        """
        zero_row = round(-self.z_min)
        upper: list[int] = []
        lower: list[int] = []
        dz: list[float] = []
        for row in range(self.grid_index.shape[0]):
            if row == zero_row:
                continue
            for col in range(self.grid_index.shape[1]):
                top, bottom = self.grid_index[row, col], self.grid_index[zero_row, col]
                if top >= 0 and bottom >= 0:
                    upper.append(int(top))
                    lower.append(int(bottom))
                    dz.append(float(row - zero_row))
        return (
            np.asarray(upper, dtype=np.intp),
            np.asarray(lower, dtype=np.intp),
            np.asarray(dz, dtype=np.float64),
        )


def virtual_array(params: RadarParams) -> VirtualArray:
    """Build the virtual array of ``params`` (board geometry, ``tx_order``, ``rx_channels``).

    Raises:
        ValueError: positions are not on the half-wavelength grid, or no channel has z == 0.
    """
    positions = params.board.virtual_positions(params.tx_order, params.rx_channels)
    rounded = np.rint(positions)
    if not np.allclose(positions, rounded):
        raise ValueError("virtual positions are not on a half-wavelength grid")
    x = rounded[:, 0].astype(np.intp)
    z = rounded[:, 1].astype(np.intp)
    on_row = np.flatnonzero(z == 0)
    if on_row.size == 0:
        raise ValueError("no virtual antenna at z == 0: no azimuth row")
    # Stable sort by x, then keep the first channel at each x (repeated TX slots overlap).
    order = on_row[np.argsort(x[on_row], kind="stable")]
    _, first = np.unique(x[order], return_index=True)
    azimuth = order[first].astype(np.intp)

    x_min, z_min = int(x.min()), int(z.min())
    grid = np.full((int(z.max()) - z_min + 1, int(x.max()) - x_min + 1), -1, dtype=np.intp)
    for v in range(positions.shape[0] - 1, -1, -1):  # reverse: the first channel wins
        grid[z[v] - z_min, x[v] - x_min] = v
    return VirtualArray(positions, azimuth, grid, grid >= 0, float(x_min), float(z_min))


def _flatten_virtual(cube: NDArray[Any]) -> NDArray[Any]:
    if cube.ndim < 3:
        raise ValueError(f"expected (..., T, R, K), got shape {cube.shape}")
    return cube.reshape(*cube.shape[:-3], cube.shape[-3] * cube.shape[-2], cube.shape[-1])


def azimuth_row(cube: NDArray[Any], array: VirtualArray) -> NDArray[Any]:
    """Azimuth-row channels sorted by x.

    Args:
        cube: (..., T, R, K) e.g. (F, loops, T, R, N) samples or any spectrum with that layout.

    Returns:
        (..., n_azimuth, K), same dtype (a copy).
    """
    return _flatten_virtual(cube)[..., array.azimuth_channels, :]


def virtual_grid(cube: NDArray[Any], array: VirtualArray) -> NDArray[Any]:
    """Place every channel on the 2-D virtual grid, zeros where no antenna sits.

    Args:
        cube: (..., T, R, K).

    Returns:
        (..., n_rows, n_cols, K), rows = elevation (z ascending), columns = azimuth (x ascending).
    """
    flat = _flatten_virtual(cube)
    n_rows, n_cols = array.grid_shape
    out = np.zeros((*flat.shape[:-2], n_rows * n_cols, flat.shape[-1]), dtype=flat.dtype)
    filled = np.flatnonzero(array.grid_mask.reshape(-1))
    out[..., filled, :] = flat[..., array.grid_index.reshape(-1)[filled], :]
    return out.reshape(*flat.shape[:-2], n_rows, n_cols, flat.shape[-1])


def compensate_tdm_doppler(
    spectrum: NDArray[Any], params: RadarParams, *, doppler_axis: int = -4, shifted: bool = True
) -> NDArray[Any]:
    """Remove the TDM-MIMO Doppler phase of each TX slot from a Doppler spectrum.

    Slot ``t`` fires ``t`` chirp periods after slot 0, so the Doppler phase per loop,
    ``2 pi k / n_doppler`` for signed bin ``k``, becomes ``2 pi k t / (n_doppler T)`` extra phase
    on that slot; it is multiplied out here.

    Args:
        spectrum: (..., n_doppler, T, R, K) complex Doppler spectrum; ``doppler_axis`` is the
            Doppler axis (the slot axis is always -3).
        params: gives T (``chirps_per_loop``); slots are assumed evenly spaced in time.
        shifted: the Doppler axis is ``fftshift``-ed (zero velocity at ``n_doppler // 2``).

    Returns:
        Compensated copy, same shape and dtype.
    """
    n_doppler = spectrum.shape[doppler_axis]
    n_slots = params.chirps_per_loop
    if spectrum.shape[-3] != n_slots:
        raise ValueError(f"slot axis -3 has {spectrum.shape[-3]} entries, expected {n_slots}")
    k = np.arange(n_doppler) - (n_doppler // 2 if shifted else 0)
    if not shifted:
        k = np.where(k >= (n_doppler + 1) // 2, k - n_doppler, k)
    phase = -2.0 * np.pi * np.outer(k, np.arange(n_slots)) / (n_doppler * n_slots)
    shape = [1] * spectrum.ndim
    shape[doppler_axis] = n_doppler
    shape[-3] = n_slots
    rotation = np.exp(1j * phase).astype(spectrum.dtype).reshape(shape)
    return spectrum * rotation  # type: ignore[no-any-return]
