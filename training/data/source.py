"""Opening a dataset for training: a built dataset (CONTRACT 2) or a ``sim:`` stand-in."""

from __future__ import annotations

from pathlib import Path

from training.data.protocols import DatasetSource


def open_training_dataset(path: str | Path) -> DatasetSource:
    """Open ``path``: a Zarr v3 directory or ``.h5`` file built by ``dataset-build`` (through
    ``dataset_tools.dataset.open_dataset``), or ``sim:...`` for a small simulated dataset held in
    memory (``training.data.simulated.parse_sim_spec``)."""
    text = str(path)
    if text.startswith("sim:"):
        from training.data.simulated import build_simulated_dataset, parse_sim_spec

        return build_simulated_dataset(parse_sim_spec(text))
    try:
        from dataset_tools.dataset import open_dataset
    except ImportError as exc:  # the reading API is not installed / not written yet
        raise RuntimeError(
            f"cannot open {text}: dataset_tools.dataset.open_dataset is unavailable ({exc})"
        ) from exc
    ds: DatasetSource = open_dataset(text)
    return ds
