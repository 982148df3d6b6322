"""mmJoints: joint descriptors for black-box radar pose models (``train --model mmjoints``;
docs/mmjoints.md).

Modules: ``descriptors`` (ground-truth xi / kappa, sMAPE / wMAPE; numpy), ``gmm`` (GMM + BIC;
numpy), ``divergence`` (KL / Jeffrey, weighted bound), ``models``, ``pipeline``, ``predictions``
(base-model files), ``pointdata`` (rig-frame point clouds, simulated point datasets, also used by
Mission), ``config``, ``cli``.
"""
