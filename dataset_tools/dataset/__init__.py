"""The dataset format (CONTRACT 2): reading API, writer, storage back ends.

Example::

    from dataset_tools.dataset import open_dataset

    ds = open_dataset("datasets/2024-05.zarr")
    seq = ds.sequence(ds.sequence_ids[0])
    maps = seq.read("horizontal", "vrdae", 0, 8)
"""

from dataset_tools.dataset.format import (
    FORMAT_NAME,
    FORMAT_VERSION,
    REPRESENTATIONS,
    DatasetError,
    IncompleteDatasetError,
)
from dataset_tools.dataset.reader import Dataset, Sequence, open_dataset
from dataset_tools.dataset.writer import DatasetWriter, SequenceWriter

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "REPRESENTATIONS",
    "Dataset",
    "DatasetError",
    "DatasetWriter",
    "IncompleteDatasetError",
    "Sequence",
    "SequenceWriter",
    "open_dataset",
]
