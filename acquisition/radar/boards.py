"""Antenna geometry of the TI evaluation boards the toolkit supports.

Positions are in units of half a wavelength at the chip's design carrier, in the board's own
antenna plane: ``x`` along the azimuth array (increasing to the board's right when looking out of
the antennas), ``z`` up along the elevation direction. Sources: TI's EVM user guides and the
``antGeometry`` lines of TI's people-counting configurations (which use the opposite signs).

A *virtual* antenna is a (TX, RX) pair; its position is the sum of the two element positions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class BoardGeometry:
    """Element positions of one radar board.

    Attributes:
        name: board identifier as used in rig files (``"IWR1843BOOST"`` ...).
        chip_family: ``"xwr18xx"`` / ``"xwr68xx"`` / ``"xwr16xx"`` / ``"xwr14xx"``.
        tx_positions: (num_tx, 2) array of (x, z) in half-wavelengths.
        rx_positions: (num_rx, 2) array of (x, z) in half-wavelengths.
        design_freq_hz: carrier at which the spacing is half a wavelength.
        max_sample_rate_ksps: ADC limit of the chip (complex 1x mode).
    """

    name: str
    chip_family: str
    tx_positions: tuple[tuple[float, float], ...]
    rx_positions: tuple[tuple[float, float], ...]
    design_freq_hz: float
    max_sample_rate_ksps: float
    max_bandwidth_hz: float
    freq_range_ghz: tuple[float, float]

    @property
    def num_tx(self) -> int:
        return len(self.tx_positions)

    @property
    def num_rx(self) -> int:
        return len(self.rx_positions)

    def virtual_positions(
        self, tx_order: tuple[int, ...], rx_channels: tuple[int, ...]
    ) -> NDArray[np.float64]:
        """Virtual antenna positions for a TDM chirp order.

        Args:
            tx_order: TX index of each chirp within one loop (chirpCfg order), length T.
            rx_channels: enabled RX indexes, ascending, length R.

        Returns:
            (T * R, 2) array of (x, z) in half-wavelengths, ordered TX slot-major then RX, which is
            the order of ``cube.reshape(loops, T * R, samples)`` for a (loops, T, R, samples) cube.
        """
        tx = np.asarray(self.tx_positions, dtype=np.float64)[list(tx_order)]
        rx = np.asarray(self.rx_positions, dtype=np.float64)[list(rx_channels)]
        return (tx[:, None, :] + rx[None, :, :]).reshape(-1, 2)


# IWR1843BOOST / AWR1843BOOST: 4 RX at lambda/2, TX0 and TX2 two wavelengths apart in azimuth,
# TX1 one wavelength right of TX0 and half a wavelength up. Virtual array: 8 azimuth elements
# (TX0, TX2) plus a row of 4 elevated elements at azimuth 2..5 (TX1).
_XWR1843_TX = ((0.0, 0.0), (2.0, 1.0), (4.0, 0.0))
_XWR1843_RX = ((0.0, 0.0), (1.0, 0.0), (2.0, 0.0), (3.0, 0.0))

# IWR6843AOP: antenna-on-package, 2 x 2 RX and an L of TX giving a 4 x 4-ish virtual grid.
_XWR6843AOP_TX = ((0.0, 0.0), (2.0, 0.0), (2.0, 2.0))
_XWR6843AOP_RX = ((0.0, 1.0), (0.0, 0.0), (1.0, 0.0), (1.0, 1.0))

BOARDS: dict[str, BoardGeometry] = {
    "IWR1843BOOST": BoardGeometry(
        "IWR1843BOOST", "xwr18xx", _XWR1843_TX, _XWR1843_RX, 77e9, 12500.0, 4e9, (76.0, 81.0)
    ),
    "AWR1843BOOST": BoardGeometry(
        "AWR1843BOOST", "xwr18xx", _XWR1843_TX, _XWR1843_RX, 77e9, 12500.0, 4e9, (76.0, 81.0)
    ),
    "IWR6843ISK": BoardGeometry(
        "IWR6843ISK", "xwr68xx", _XWR1843_TX, _XWR1843_RX, 60.5e9, 12500.0, 4e9, (60.0, 64.0)
    ),
    "IWR6843AOP": BoardGeometry(
        "IWR6843AOP", "xwr68xx", _XWR6843AOP_TX, _XWR6843AOP_RX, 60.5e9, 12500.0, 4e9, (60.0, 64.0)
    ),
    "IWR1642BOOST": BoardGeometry(
        "IWR1642BOOST",
        "xwr16xx",
        ((0.0, 0.0), (4.0, 0.0)),
        _XWR1843_RX,
        77e9,
        6250.0,
        4e9,
        (76.0, 81.0),
    ),
    "IWR1443BOOST": BoardGeometry(
        "IWR1443BOOST", "xwr14xx", _XWR1843_TX, _XWR1843_RX, 77e9, 18750.0, 4e9, (76.0, 81.0)
    ),
}


def board_geometry(name: str) -> BoardGeometry:
    """Look up a board by name (case-insensitive); raises ``KeyError`` listing the known boards."""
    for key, board in BOARDS.items():
        if key.lower() == name.lower():
            return board
    raise KeyError(f"unknown radar board {name!r}; known boards: {', '.join(BOARDS)}")
