"""The recording format (CONTRACT 1): one folder per take with a manifest and an MCAP file of
ROS 2 messages, written and read without a ROS installation."""

from acquisition.recording.manifest import StreamStats, TakeManifest, read_manifest
from acquisition.recording.reader import TakeReader, list_takes
from acquisition.recording.records import (
    NO_TRIGGER,
    CameraFrameRecord,
    CameraIntrinsics,
    PointCloudRecord,
    RadarFrameRecord,
    TriggerPulseRecord,
)
from acquisition.recording.writer import RecordingError, TakeWriter

__all__ = [
    "NO_TRIGGER",
    "CameraFrameRecord",
    "CameraIntrinsics",
    "PointCloudRecord",
    "RadarFrameRecord",
    "RecordingError",
    "StreamStats",
    "TakeManifest",
    "TakeReader",
    "TakeWriter",
    "TriggerPulseRecord",
    "list_takes",
    "read_manifest",
]
