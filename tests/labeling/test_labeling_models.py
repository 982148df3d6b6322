"""Configs, model files and their checks, missing-weight errors, the label-models command, and
the rule that importing labeling pulls in no deep learning framework."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from labeling.cli import label_models, label_session
from labeling.config import (
    DetectorConfig,
    LabelingConfig,
    LabelingConfigError,
    PoseConfig,
    load_config,
)
from labeling.models import (
    MODEL_FILES,
    MissingWeights,
    ModelFile,
    WeightsMismatch,
    download_model,
    verify_model,
)
from tests.conftest import REPO_ROOT


def test_importing_labeling_imports_no_framework() -> None:
    code = (
        "import sys, labeling, labeling.pipeline, labeling.backends, labeling.cli.label_session\n"
        "heavy = {'torch', 'ultralytics', 'mmpose', 'mmcv', 'cv2'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)


def test_yaml_config_with_preset_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "labeling.yaml"
    path.write_text(
        "preset: vitpose\n"
        "device: cpu\n"
        f"models_dir: {tmp_path}\n"
        "pose: {min_joint_score: 0.5}\n"
        "smoothing: {method: savgol, window: 9}\n"
    )
    cfg = load_config(path)
    assert cfg.pose.model == "vitpose_b" and cfg.pose.min_joint_score == 0.5
    assert cfg.smoothing.method == "savgol" and cfg.smoothing.window == 9
    assert cfg.labeler_name == "yolo11m+vitpose_b"
    assert cfg.checkpoint_path("pose") == tmp_path / MODEL_FILES["vitpose_b"].filename
    assert cfg.pose.resolved_input_size == (192, 256)
    assert json.loads(json.dumps(cfg.to_dict()))["models_dir"] == str(tmp_path)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("pose: {model: openpose}\n", "pose.model"),
        ("smoothing: {window: 4}\n", "smoothing.window"),
        ("tracking: {min_iou: 2}\n", "min_iou"),
        ("detector: {colour: red}\n", "unknown keys"),
        ("preset: nope\n", "preset"),
        ("batch_size: 0\n", "batch_size"),
    ],
)
def test_bad_configs_name_the_key(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises((LabelingConfigError, ValueError), match=match):
        load_config(path)


def test_missing_weights_error_gives_path_and_command(tmp_path: Path) -> None:
    cfg = LabelingConfig(models_dir=tmp_path, device="cpu")
    from labeling.backends.base import checkpoint_and_hash

    with pytest.raises(MissingWeights) as info:
        checkpoint_and_hash(cfg, "pose", "hrnet_w32")
    message = str(info.value)
    assert str(tmp_path / MODEL_FILES["hrnet_w32"].filename) in message
    assert f"label-models download hrnet_w32 --models-dir {tmp_path}" in message
    # Through the command line: exit status 2 and the same message, before any model is built.
    take = tmp_path / "take"
    take.mkdir()
    code = label_session.main([str(take), "--models-dir", str(tmp_path), "--preset", "yolo-pose"])
    assert code == 2


def test_missing_ultralytics_weights_are_never_fetched(tmp_path: Path) -> None:
    pytest.importorskip("ultralytics")
    from labeling.backends.ultralytics_backend import UltralyticsDetector

    cfg = LabelingConfig(detector=DetectorConfig(model="yolo11n"), models_dir=tmp_path)
    with pytest.raises(MissingWeights, match=r"yolo11n\.pt"):
        UltralyticsDetector(cfg)
    assert not any(tmp_path.iterdir())


def _local_model(tmp_path: Path, prefix_ok: bool = True) -> ModelFile:
    source = tmp_path / "remote" / "weights.bin"
    source.parent.mkdir()
    source.write_bytes(b"not really a checkpoint" * 100)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    return ModelFile(
        name="toy",
        filename="toy-weights.bin",
        url=source.as_uri(),
        sha256_prefix=digest[:8] if prefix_ok else "00000000",
        role="pose",
        backend="mmpose",
        architecture="x.py",
        input_size=(192, 256),
        description="toy",
    )


def test_download_checks_the_published_prefix_and_locks_the_hash(tmp_path: Path) -> None:
    models = tmp_path / "models"
    model = _local_model(tmp_path)
    path = download_model(model, models)
    digest = verify_model(model, path)
    lock = json.loads((models / "models.lock.json").read_text())
    assert lock == {"toy-weights.bin": digest}
    path.write_bytes(b"tampered")
    with pytest.raises(WeightsMismatch):
        verify_model(replace(model, sha256_prefix=None), path)
    bad = replace(model, sha256_prefix="00000000", filename="other.bin")
    with pytest.raises(WeightsMismatch, match="discarded"):
        download_model(bad, models)
    assert not (models / "other.bin").exists()


def test_label_models_list_and_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert label_models.main(["list", "--models-dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    for name in ("yolo11m", "hrnet_w32", "vitpose_b", "yolo11m_pose"):
        assert name in out
    assert "MISSING" in out and MODEL_FILES["hrnet_w32"].url in out
    (tmp_path / MODEL_FILES["yolo11m"].filename).write_bytes(b"weights")
    assert label_models.main(["check", "yolo11m", "--models-dir", str(tmp_path)]) == 0
    assert "ok  sha256" in capsys.readouterr().out
    assert label_models.main(["check", "hrnet_w32", "--models-dir", str(tmp_path)]) == 1


def test_random_weights_need_no_file() -> None:
    cfg = LabelingConfig(
        detector=DetectorConfig(random_weights=True), pose=PoseConfig(random_weights=True)
    )
    assert cfg.checkpoint_path("detector") is None and cfg.checkpoint_path("pose") is None


def test_missing_mmpose_says_how_to_install() -> None:
    import importlib.util

    if importlib.util.find_spec("mmpose") is not None:
        pytest.skip("mmpose is installed")
    from acquisition.errors import MissingDependency
    from labeling.backends.base import create_pose_estimator

    cfg = LabelingConfig(pose=PoseConfig(model="hrnet_w32", random_weights=True), device="cpu")
    with pytest.raises(MissingDependency, match=r"scripts/install_mmpose\.sh"):
        create_pose_estimator(cfg)
