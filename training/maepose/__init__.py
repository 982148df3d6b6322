"""MAEPose: self-supervised masked video pre-training on radar video, then heatmap fine-tuning.

Stage 1 (``train --model maepose-pretrain``) learns a ViT encoder by reconstructing 90 % masked
space-time patches of 20-frame range-Doppler (or range-azimuth, or both) clips, from any take,
labelled or not. Stage 2 (``train --model maepose --init PRETRAINED``) fine-tunes that encoder
with a light multi-frame heatmap decoder (13 joints, 5 target frames). The leave-one-person-out
protocol (``python -m training.maepose.lopo``) runs both stages per held-out subject.

Modules: ``params`` (typed model parameters, torch-free), ``clips`` (clip reading and
preprocessing), ``trainer`` (the shared trainer with MAEPose's data, optimiser and validation),
``metrics`` (MPJPE in metres / PCK@5 cm from 2-D predictions), ``stats`` (Friedman and paired
tests), ``lopo``, ``visualise`` (masked-reconstruction PNG). Models: ``training.models.maepose``.
Importing this package does not import torch. See ``docs/maepose.md``.
"""
