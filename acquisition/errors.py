"""Exception hierarchy of the device layer: every error names the device it concerns."""

from __future__ import annotations


class DeviceError(RuntimeError):
    """A device misbehaved or could not be reached. ``device`` is the rig name of the device
    (``radar_h``, ``trigger``, ``camera0``) or its port/address when it has no name."""

    def __init__(self, device: str, message: str) -> None:
        self.device = device
        self.message = message
        super().__init__(f"[{device}] {message}")


class DeviceTimeout(DeviceError):
    """The device did not answer within the allowed time."""


class DeviceNotFound(DeviceError):
    """The port, address or camera serial does not exist or cannot be opened."""


class MissingDependency(ImportError):
    """An optional SDK is not installed; the message says what to install."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the '{package}' package: pip install '.[{extra}]' "
            f"(or pip install {package})"
        )
        self.package = package
        self.extra = extra
