"""Board-clock to host-clock mapping for the trigger board.

Each pulse report gives a pair (board time of the edge, host time the report was read). The host
time is late by the transport latency (UART, USB polling, the OS scheduler), which is never
negative and often much larger than its minimum. A least-squares fit would absorb the mean
latency and be pulled by every late report; instead the model is fitted to the *lower envelope*
of the delays, after Moon, Skelly and Towsley, "Estimation and removal of clock skew from network
delay measurements" (INFOCOM 1999):

    delay_i = host_us_i - board_us_i   (one-sided: true offset + drift term + latency_i >= floor)

Among all lines lying on or below every point, take the one that minimises the summed vertical
distance to the points. That line is the edge of the lower convex hull of the points that spans
the mean board time (a linear program whose optimum is a hull vertex pair), so it is found exactly
in O(n log n) with no tuning constant. It follows the fastest reports, whose latency is the
floor; the mapping therefore carries the minimum transport latency as a constant bias
(``fixed_latency_us`` subtracts a measured one).

The fit uses a sliding window of the latest samples (default 600: one minute at 10 Hz), so slow
drift changes (temperature) are followed. Board times may be 64-bit (protocol v1) or narrower
(``board_time_bits=32`` for firmware that sends raw ``micros()``): they are unwrapped against the
latest sample, which is correct as long as samples are less than half a wrap apart (35 minutes for
32 bits).
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass
from itertools import pairwise

# Largest plausible drift between the board's crystal and the host clock (1000 ppm; real boards
# are within +-100 ppm).
_MAX_DRIFT = 1e-3


class ClockNotReady(RuntimeError):
    """The clock has no sample yet, so it cannot map times."""


@dataclass(frozen=True)
class ClockFit:
    """The current board -> host model.

    Attributes:
        offset_us: host time minus board time at the newest sample, on the envelope (us).
        drift_ppm: how much faster the board clock runs than the host clock (parts per million);
            positive: the board counts more microseconds per host second.
        residual_rms_us: RMS of the delays above the envelope (us): the report-latency jitter.
        residual_max_us: the largest delay above the envelope (us).
        samples: samples in the window.
        span_s: board-time span of the window (seconds).
    """

    offset_us: float
    drift_ppm: float
    residual_rms_us: float
    residual_max_us: float
    samples: int
    span_s: float


@dataclass(frozen=True)
class _Line:
    ref_board_us: int
    ref_host_ns: int
    slope: float  # d(delay_us)/d(board_us)
    intercept_us: float  # delay at ref_board_us (us)


def _lower_hull(xs: list[float], ys: list[float]) -> list[int]:
    """Indexes (ascending x) of the lower convex hull of points sorted by x (monotone chain)."""
    hull: list[int] = []
    for i in range(len(xs)):
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            cross = (xs[b] - xs[a]) * (ys[i] - ys[a]) - (ys[b] - ys[a]) * (xs[i] - xs[a])
            if cross > 0:  # strictly convex (left turn): b stays on the lower hull
                break
            hull.pop()
        hull.append(i)
    return hull


class TriggerClock:
    """Maps board microseconds to host nanoseconds (the host clock the receive times were taken
    with, usually ``time.monotonic_ns``). Thread-safe: a driver's reader thread may add samples
    while another thread converts times.

    Usage::

        clock = TriggerClock()
        clock.add(pulse.board_time_us, pulse.host_receive_ns)   # for every pulse report
        edge_host_ns = clock.to_host_ns(pulse.board_time_us)
    """

    def __init__(
        self, *, window: int = 600, board_time_bits: int = 64, fixed_latency_us: float = 0.0
    ) -> None:
        if window < 2:
            raise ValueError("window must hold at least 2 samples")
        if not 8 <= board_time_bits <= 64:
            raise ValueError("board_time_bits must be between 8 and 64")
        self.window = window
        self.board_time_bits = board_time_bits
        self.fixed_latency_us = fixed_latency_us
        self._modulus = 1 << board_time_bits
        self._samples: deque[tuple[int, int]] = deque(maxlen=window)  # (unwrapped us, host ns)
        self._lock = threading.Lock()
        self._line: _Line | None = None
        self._fit: ClockFit | None = None
        self.resets = 0  # the board clock went backwards (board reset): window restarted

    # --- input ---------------------------------------------------------------------------------
    def _unwrap(self, board_us: int) -> int:
        """Unwrapped board time nearest to the newest sample (lock held)."""
        if not self._samples or self.board_time_bits == 64:
            return board_us
        last = self._samples[-1][0]
        delta = (board_us - last) % self._modulus
        if delta >= self._modulus // 2:
            delta -= self._modulus
        return last + delta

    def add(self, board_time_us: int, host_time_ns: int) -> None:
        """Add one (board edge time in us, host receive time in ns) pair."""
        with self._lock:
            unwrapped = self._unwrap(board_time_us)
            if self._samples and unwrapped < self._samples[-1][0]:
                # A board reset restarts its clock: old pairs describe another epoch.
                self._samples.clear()
                self.resets += 1
                unwrapped = board_time_us
            self._samples.append((unwrapped, host_time_ns))
            self._line = None
            self._fit = None

    def clear(self) -> None:
        with self._lock:
            self._samples.clear()
            self._line = None
            self._fit = None

    @property
    def samples(self) -> int:
        with self._lock:
            return len(self._samples)

    # --- model ---------------------------------------------------------------------------------
    def _compute(self) -> tuple[_Line, ClockFit]:
        """Fit the lower envelope of the window (lock held)."""
        if not self._samples:
            raise ClockNotReady("no (board, host) sample yet")
        pairs = sorted(self._samples)
        ref_b, ref_h = pairs[0]
        xs = [float(b - ref_b) for b, _ in pairs]
        ys = [(h - ref_h) / 1000.0 - x for (_, h), x in zip(pairs, xs, strict=True)]
        slope, intercept = 0.0, min(ys)
        if xs[-1] > xs[0]:
            hull = _lower_hull(xs, ys)
            mean_x = sum(xs) / len(xs)
            for a, b in pairwise(hull):
                if xs[a] <= mean_x <= xs[b] and xs[b] > xs[a]:
                    slope = (ys[b] - ys[a]) / (xs[b] - xs[a])
                    intercept = ys[a] - slope * xs[a]
                    break
        if abs(slope) > _MAX_DRIFT:
            # No oscillator drifts this much: the envelope was bent by report latency (a short
            # window on a loaded host) or the samples are degenerate. Keep the offset only.
            slope, intercept = 0.0, min(ys)
        residuals = [max(0.0, y - (intercept + slope * x)) for x, y in zip(xs, ys, strict=True)]
        line = _Line(ref_b, ref_h, slope, intercept)
        newest = xs[-1]
        fit = ClockFit(
            offset_us=(ref_h / 1000.0 - ref_b) + intercept + slope * newest,
            drift_ppm=(1.0 / (1.0 + slope) - 1.0) * 1e6,
            residual_rms_us=math.sqrt(sum(r * r for r in residuals) / len(residuals)),
            residual_max_us=max(residuals),
            samples=len(pairs),
            span_s=newest / 1e6,
        )
        return line, fit

    def _model(self) -> _Line:
        if self._line is None:
            self._line, self._fit = self._compute()
        return self._line

    def fit(self) -> ClockFit:
        """The current model; raises :class:`ClockNotReady` without samples."""
        with self._lock:
            self._model()
            assert self._fit is not None
            return self._fit

    def to_host_ns(self, board_time_us: int) -> int:
        """Host time (ns, the clock of the samples) of a board time (us, wrapped like the input).
        With one sample the drift is taken as zero."""
        with self._lock:
            line = self._model()
            x = float(self._unwrap(board_time_us) - line.ref_board_us)
            host_rel_us = x + line.intercept_us + line.slope * x - self.fixed_latency_us
            return line.ref_host_ns + round(host_rel_us * 1000.0)
