"""acq-take: list, show and recover takes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from acquisition.cli.acq_take import main as acq_take
from acquisition.recording import RadarFrameRecord, TakeWriter


def _frame(i: int) -> RadarFrameRecord:
    return RadarFrameRecord(
        "radar_h", i, i, i, 0, i, (1, 1, 1, 4), "int16_iq_sdk", 1, 0, 0, True, bytes(16)
    )


def test_list_show_and_recover(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with TakeWriter.create(tmp_path, "s", "done", subject="S01", action="wave") as w:
        for i in range(3):
            w.write_radar_frame(_frame(i))
    killed = TakeWriter.create(tmp_path, "s", "killed", subject="S02", action="squat")
    killed.write_radar_frame(_frame(0))
    killed.flush()
    killed.manifest.recorder["pid"] = 2**22 + 12345  # a recorder that no longer exists
    killed.flush()

    assert acq_take(["list", str(tmp_path), "s"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].split()[:3] == ["done", "complete", "S01"]
    assert rows[1].split()[:3] == ["killed", "interrupted", "S02"]

    assert acq_take(["show", str(tmp_path / "s/done")]) == 0
    out = capsys.readouterr().out
    assert "complete" in out and "/radar_h/frames" in out and "3 frames" in out

    assert acq_take(["recover", str(tmp_path / "s/killed")]) == 0
    assert "interrupted; 1 messages readable" in capsys.readouterr().out
    saved = json.loads((tmp_path / "s/killed/manifest.json").read_text())
    assert saved["status"] == "interrupted"

    assert acq_take(["show", str(tmp_path / "s/missing")]) == 1
    assert "not a take" in capsys.readouterr().err
