"""Training and evaluation of the toolkit's radar pose models (HuPR, milliMamba, ...).

Reads only built datasets (CONTRACT 2) through ``dataset_tools.dataset``. Importing this package
does not import torch; the subpackages that need it (``training.data``, ``training.models``,
``training.trainer`` ...) import it themselves. See ``docs/training.md``.

Entry points: the ``train``, ``evaluate`` and ``predict`` commands (``training.cli``).
"""

# Models of this package; the registry (extensible) is training.model_params.MODELS.
MODEL_NAMES: tuple[str, ...] = ("hupr", "millimamba")

__all__ = ["MODEL_NAMES"]
