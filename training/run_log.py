"""Progress lines, CSV logs and (optional) TensorBoard events of a run."""

from __future__ import annotations

import csv
import importlib.util
import sys
import time
from pathlib import Path
from typing import Any, TextIO


class RunLog:
    """Writes ``train.csv`` (one row per ``log_every`` iterations) and ``epochs.csv`` (one row
    per epoch, validation metrics included) under ``run_dir``, and prints progress lines.

    CSV files are appended to, so a resumed run continues them (rows after the checkpoint's
    step are dropped first so that they are not duplicated).
    """

    def __init__(
        self,
        run_dir: Path,
        *,
        enabled: bool = True,
        tensorboard: bool = True,
        stream: TextIO | None = None,
    ) -> None:
        self.run_dir = run_dir
        self.enabled = enabled
        self.stream = stream or sys.stdout
        self._tb: Any = None
        if enabled and tensorboard and importlib.util.find_spec("tensorboard") is not None:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(run_dir / "tensorboard"))
        self._t0 = time.monotonic()

    def truncate_after(self, step: int, epoch: int) -> None:
        """Drop CSV rows written after ``step`` / ``epoch`` (before resuming from there)."""
        for name, key, limit in (("train.csv", "step", step), ("epochs.csv", "epoch", epoch)):
            path = self.run_dir / name
            if not self.enabled or not path.exists():
                continue
            with path.open() as fh:
                rows = list(csv.DictReader(fh))
            if not rows:
                continue
            fieldnames = list(rows[0])
            keep = [r for r in rows if int(float(r[key])) <= limit]
            with path.open("w", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=fieldnames)
                writer.writeheader()
                writer.writerows(keep)

    def _append(self, name: str, row: dict[str, Any]) -> None:
        path = self.run_dir / name
        new = not path.exists()
        if not new:
            with path.open() as fh:
                header = next(csv.reader(fh), [])
            if header != list(row):
                # columns changed (e.g. first validation): rewrite with the union of columns
                with path.open() as fh:
                    rows = list(csv.DictReader(fh))
                fields = list(dict.fromkeys([*header, *row]))
                with path.open("w", newline="") as fh:
                    writer = csv.DictWriter(fh, fieldnames=fields)
                    writer.writeheader()
                    writer.writerows(rows)
                    writer.writerow(row)
                return
        with path.open("a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)

    def iteration(self, row: dict[str, Any], line: str) -> None:
        if not self.enabled:
            return
        self._append("train.csv", row)
        print(line, file=self.stream, flush=True)
        if self._tb is not None:
            for k, v in row.items():
                if isinstance(v, float):
                    self._tb.add_scalar(f"train/{k}", v, row["step"])

    def epoch(self, row: dict[str, Any], line: str) -> None:
        if not self.enabled:
            return
        self._append("epochs.csv", row)
        print(line, file=self.stream, flush=True)
        if self._tb is not None:
            for k, v in row.items():
                if isinstance(v, float):
                    self._tb.add_scalar(f"epoch/{k}", v, row["epoch"])

    def message(self, line: str) -> None:
        if self.enabled:
            print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
