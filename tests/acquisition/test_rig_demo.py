"""rig-demo: the second simulated subject's rig file (the whole demo is the README's main
command, run by hand: it records, builds, trains and evaluates for about a minute or two)."""

from __future__ import annotations

from pathlib import Path

import yaml

from acquisition.cli.rig_demo import DEFAULT_RIG, main, rig_with_subject
from acquisition.rig import load_rig


def test_rig_with_subject_is_another_person_on_the_same_rig(tmp_path: Path) -> None:
    base = load_rig(DEFAULT_RIG)
    path = rig_with_subject(DEFAULT_RIG, tmp_path / "rigs", seed_offset=1)
    assert path.parent == tmp_path / "rigs"
    other = load_rig(path)  # radar .cfg paths resolve from the new location
    assert base.simulation is not None and other.simulation is not None
    assert other.simulation.subject.seed == base.simulation.subject.seed + 1
    assert other.simulation.subject.action == base.simulation.subject.action
    assert other.simulation.seed == base.simulation.seed
    assert [r.cfg_path for r in other.radars] == [r.cfg_path for r in base.radars]
    doc = yaml.safe_load(path.read_text())
    assert all(Path(r["cfg"]).is_absolute() for r in doc["radars"])


def test_rig_demo_rejects_a_rig_without_simulation(tmp_path: Path) -> None:
    real = DEFAULT_RIG.parent / "dual_radar.yaml"
    assert main(["--rig", str(real), "--out", str(tmp_path)]) == 1
