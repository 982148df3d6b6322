"""Radar representations computed for a dataset, with the shared DSP (``dataset_tools.dsp``).

=========  ==========================================================================  ==========
name       per-frame array                                                             models
=========  ==========================================================================  ==========
vrdae      (16 Doppler, 64 range, 64 azimuth, 8 elevation) complex64, exact HuPR map    HuPR,
           (stored as its (16, 64, 12) channels + the angle matrix; read expands them)  milliMamba
rd         (Doppler, range) float32 dB, mean power over virtual channels (Hann)        MAEPose
ra         (range, 64 azimuth) float32 dB, Doppler-summed after clutter removal        MAEPose RA
points     ragged (P, 8) float32 CFAR point cloud, TI radar frame                      mmJoints,
                                                                                       Mission
raw        (loops, TX slots, RX, samples) ADC counts, stored as int16 I/Q pairs        any
=========  ==========================================================================  ==========
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from acquisition.radar.params import RadarParams
from dataset_tools.dataset.format import VRDAE_CHANNELS
from dataset_tools.dsp import (
    POINT_COLUMNS,
    detect_points,
    ra_video_frames,
    split_points_by_frame,
)
from dataset_tools.dsp.fused import rd_db_frames, vrdae_channel_frames
from dataset_tools.dsp.hupr import HUPR_CUBE_SHAPE, vrdae_channels

ALL_REPRESENTATIONS = ("vrdae", "rd", "ra", "points", "raw")
DEFAULT_REPRESENTATIONS = ("vrdae", "rd", "ra", "points")


@dataclass(frozen=True)
class RepresentationConfig:
    """Which representations to compute and their parameters.

    Attributes:
        names: subset of :data:`ALL_REPRESENTATIONS`.
        rd_range_bins: (first, stop) range bins kept in ``rd`` (default all).
        ra_range_bins: (first, stop) range bins kept in ``ra`` (default all).
        ra_angles: azimuth bins of ``ra``.
        floor_db: lower clamp of the dB maps.
        points_pfa: CFAR false-alarm probability of ``points``.
    """

    names: tuple[str, ...] = DEFAULT_REPRESENTATIONS
    rd_range_bins: tuple[int, int] | None = None
    ra_range_bins: tuple[int, int] | None = None
    ra_angles: int = 64
    floor_db: float = -100.0
    points_pfa: float = 1e-5

    def __post_init__(self) -> None:
        unknown = set(self.names) - set(ALL_REPRESENTATIONS)
        if unknown:
            raise ValueError(
                f"unknown representations {sorted(unknown)}; choose from {ALL_REPRESENTATIONS}"
            )

    def describe(self) -> dict[str, Any]:
        return {
            "names": list(self.names),
            "rd_range_bins": self.rd_range_bins,
            "ra_range_bins": self.ra_range_bins,
            "ra_angles": self.ra_angles,
            "floor_db": self.floor_db,
            "points_pfa": self.points_pfa,
            "points_columns": list(POINT_COLUMNS),
        }


def _bins(pair: tuple[int, int] | None) -> slice | None:
    return None if pair is None else slice(pair[0], pair[1])


def applicable(name: str, params: RadarParams) -> str | None:
    """None when ``name`` can be computed for this radar set-up, else the reason it cannot."""
    if name == "vrdae" and params.cube_shape != HUPR_CUBE_SHAPE:
        return f"VRDAE needs HuPR's cube {HUPR_CUBE_SHAPE}, this radar gives {params.cube_shape}"
    if name == "raw" and not params.complex_samples:
        return None
    return None


def stored_array(name: str) -> str:
    """The array a representation is stored in (``vrdae`` -> its channels, ``vrdae_channels``)."""
    return VRDAE_CHANNELS if name == "vrdae" else name


def frame_layout(
    name: str, params: RadarParams, config: RepresentationConfig
) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """(per-frame shape, dtype) of a stored representation's array (not for ``points``)."""
    loops, slots, rx, samples = params.cube_shape
    if name == "vrdae":
        return (16, 64, slots * rx), np.dtype(np.complex64)
    if name == "rd":
        b = _bins(config.rd_range_bins)
        n_range = len(range(samples)[b]) if b is not None else samples
        return (loops, n_range), np.dtype(np.float32)
    if name == "ra":
        b = _bins(config.ra_range_bins)
        n_range = len(range(samples)[b]) if b is not None else samples
        return (n_range, config.ra_angles), np.dtype(np.float32)
    if name == "raw":
        return (loops, slots, rx, samples, 2), np.dtype(np.int16)
    raise ValueError(f"no fixed layout for {name!r}")


def compute(
    cube: NDArray[np.complex64],
    params: RadarParams,
    config: RepresentationConfig,
    names: tuple[str, ...],
    *,
    out: dict[str, NDArray[Any]] | None = None,
    work: NDArray[np.complex64] | None = None,
) -> dict[str, Any]:
    """All requested representations of a batch of frames.

    Args:
        cube: (n, loops, T, R, N) complex64 ADC counts of n frames.
        names: representations to compute (already checked with :func:`applicable`).
        out: optional destinations (name -> (n, ...) array of the frame layout), e.g. VRDAE
            channels written straight into the block that is written to the dataset.
        work: optional reused complex64 scratch of ``cube``'s shape (RD).

    Returns:
        name -> (n, ...) array (``vrdae``: its stored channels, see :func:`stored_array`);
        ``points`` -> list of n (P_f, 8) float32 arrays whose frame
        column is the index inside the batch.
    """
    result: dict[str, Any] = {}
    dest = out or {}
    n = cube.shape[0]
    for name in names:
        if name == "vrdae":
            if cube.ndim == 5 and cube.dtype == np.complex64:
                result[name] = vrdae_channel_frames(cube, out=dest.get(name))
            else:
                result[name] = vrdae_channels(cube)
        elif name == "rd":
            result[name] = rd_db_frames(
                cube, range_bins=_bins(config.rd_range_bins), floor_db=config.floor_db, work=work
            )
        elif name == "ra":
            result[name] = ra_video_frames(
                cube,
                params,
                range_bins=_bins(config.ra_range_bins),
                n_angle=config.ra_angles,
                normalise="none",
                floor_db=config.floor_db,
            )
        elif name == "raw":
            pairs = np.empty((*cube.shape, 2), dtype=np.int16)
            pairs[..., 0] = cube.real
            pairs[..., 1] = cube.imag
            result[name] = pairs
        elif name == "points":
            pts = detect_points(cube, params, pfa=config.points_pfa)
            result[name] = split_points_by_frame(pts, n)
    return result
