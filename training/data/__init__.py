"""Datasets, windows, targets and augmentation for training (imports torch)."""

from training.data.heatmaps import decode_heatmaps, gaussian_heatmaps
from training.data.memory import MemoryDataset, MemorySequence
from training.data.protocols import DatasetSource, SequenceSource
from training.data.source import open_training_dataset
from training.data.windows import DataIntegrityError, RadarWindowDataset, Window

__all__ = [
    "DataIntegrityError",
    "DatasetSource",
    "MemoryDataset",
    "MemorySequence",
    "RadarWindowDataset",
    "SequenceSource",
    "Window",
    "decode_heatmaps",
    "gaussian_heatmaps",
    "open_training_dataset",
]
