"""Mission: radar -> RGB person re-identification (``train --model mission``; docs/mission.md).

Modules: ``config`` (typed config, torch-free), ``models`` (RF / vision branches, coordinated
representation), ``reid`` (CMC, mAP, gallery-size sweep; numpy), ``pipeline`` (clips, protocols,
training, evaluation).
"""
