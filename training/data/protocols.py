"""What training needs from a dataset: the subset of ``dataset_tools.dataset``'s reading API
it uses, as Protocols (so an in-memory dataset can stand in for tests).

Shapes follow CONTRACT 2 (``dataset_tools/dataset/format.py``): ``F`` frames per sequence,
``J`` joints of a label schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray


@runtime_checkable
class SequenceSource(Protocol):
    """One sequence (take) of a dataset."""

    @property
    def num_frames(self) -> int: ...

    @property
    def attrs(self) -> Mapping[str, Any]:
        """At least ``session``, ``take``, ``subject``, ``action``, ``scene``."""
        ...

    @property
    def radars(self) -> list[str]: ...

    def representations(self, radar: str) -> list[str]: ...

    def read(
        self,
        radar: str,
        representation: str,
        start: int,
        stop: int,
        *,
        index: tuple[Any, ...] = (),
    ) -> NDArray[Any]:
        """Frames ``[start, stop)`` of one representation, e.g. vrdae (n, 16, 64, 64, 8);
        ``index`` selects on the per-frame axes (e.g. ``(slice(4, 12),)``: Doppler bins)."""
        ...

    def mask(self, stream: str) -> NDArray[np.bool_]:
        """(F,) availability of ``radar/<name>``, ``camera/<name>`` or ``labels/<schema>``."""
        ...

    @property
    def label_schemas(self) -> list[str]: ...

    def labels(self, schema: str) -> Mapping[str, Any]:
        """``keypoints_2d`` (F, J, 3) [x, y, score] pixels, ``keypoints_3d`` (F, J, 3) metres,
        ``valid`` (F, J) bool, ``boxes`` (F, 4) [x1, y1, x2, y2], ``image_size`` (w, h)."""
        ...


@runtime_checkable
class DatasetSource(Protocol):
    """A built dataset: sequences plus named splits."""

    @property
    def sequence_ids(self) -> list[str]: ...

    @property
    def splits(self) -> Mapping[str, Mapping[str, list[str]]]:
        """E.g. ``{"by_sequence": {"train": [...], ...}, "by_subject": {"S01": [...]}}``."""
        ...

    def sequence(self, seq_id: str) -> SequenceSource: ...
