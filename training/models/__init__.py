"""The pose models and the factory that builds them from a run config."""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from training.config import RunConfig
from training.model_params import MODELS, model_params
from training.models.base import PoseModel


def build_model(cfg: RunConfig, input_shape: Sequence[int], num_joints: int) -> PoseModel:
    """The model of ``cfg.model`` (``training.model_params.MODELS``) for one item's ``radar``
    shape and ``num_joints`` joints."""
    params = model_params(cfg)
    module_name, _, function = MODELS[cfg.model.name].builder.partition(":")
    builder = getattr(importlib.import_module(module_name), function)
    model: PoseModel = builder(cfg, params, tuple(input_shape), num_joints)
    return model


__all__ = ["PoseModel", "build_model"]
