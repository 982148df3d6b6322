"""Config-port driver against the emulator over real UDP on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from acquisition.dca1000.control import DCA1000Control
from acquisition.dca1000.emulator import DCA1000Emulator
from acquisition.dca1000.protocol import Command, FpgaConfig, FpgaVersion, PacketConfig
from acquisition.errors import DeviceError, DeviceNotFound, DeviceTimeout


@pytest.fixture
def emulator() -> Iterator[DCA1000Emulator]:
    emu = DCA1000Emulator(
        data_dest=("127.0.0.1", 9),  # discard port: these tests do not look at data
        bytes_per_frame=4000,
        frame_source=lambda i: bytes(4000),
        max_frames=2,
        fpga_version=FpgaVersion(2, 9, False),
    )
    emu.start()
    yield emu
    emu.close()


def control_for(emu: DCA1000Emulator, *, timeout_s: float, retries: int = 2) -> DCA1000Control:
    return DCA1000Control(
        "127.0.0.1",
        config_port=emu.config_port,
        host_ip="127.0.0.1",
        host_config_port=0,
        name="radar_h",
        timeout_s=timeout_s,
        retries=retries,
    )


def test_command_sequence_round_trip(emulator: DCA1000Emulator) -> None:
    card = control_for(emulator, timeout_s=5.0)
    assert card._sock is None  # nothing bound before the first command
    with card:
        card.connect()
        assert card.read_fpga_version() == FpgaVersion(2, 9, False)
        card.configure_fpga(lanes=2)
        config = card.configure_packets(size=1472, delay_us=25)
        card.start_record()
        assert emulator.recording
        assert emulator.wait_done(10.0)
        card.stop_record()
        assert emulator.packet_config == config == PacketConfig(1472, 3125)
        assert emulator.fpga_config == FpgaConfig(1, 2, 1, 2, 3, 30)
        card.reset_radar()
        card.reset_fpga()
    assert emulator.fpga_config is None  # an FPGA reset forgets the configuration
    assert emulator.commands_received == [
        Command.SYSTEM_CONNECT,
        Command.READ_FPGA_VERSION,
        Command.CONFIG_FPGA,
        Command.CONFIG_PACKET,
        Command.RECORD_START,
        Command.RECORD_STOP,
        Command.RESET_RADAR,
        Command.RESET_FPGA,
    ]
    assert emulator.stats.frames_sent == 2
    assert not emulator.recording


def test_non_zero_status_raises_device_error_naming_the_card(emulator: DCA1000Emulator) -> None:
    emulator.fail_commands[Command.RECORD_START] = 3
    with control_for(emulator, timeout_s=5.0) as card, pytest.raises(DeviceError) as info:
        card.start_record()
    assert not isinstance(info.value, DeviceTimeout)
    assert info.value.device == "radar_h"
    assert "RECORD_START" in str(info.value) and "status 3" in str(info.value)


def test_no_reply_raises_timeout_after_retries(emulator: DCA1000Emulator) -> None:
    emulator.mute_commands.add(Command.SYSTEM_CONNECT)
    with (
        control_for(emulator, timeout_s=0.2, retries=2) as card,
        pytest.raises(DeviceTimeout) as info,
    ):
        card.connect()
    assert info.value.device == "radar_h"
    assert "3 attempts" in str(info.value)
    assert emulator.commands_received.count(Command.SYSTEM_CONNECT) == 3


def test_async_status_is_recorded_not_taken_for_a_reply(emulator: DCA1000Emulator) -> None:
    emulator.queue_async_status(9)
    emulator.queue_async_status(1)
    with control_for(emulator, timeout_s=5.0) as card:
        card.connect()
        card.configure_fpga()
    assert [s.status for s in card.async_statuses] == [9, 1]


def test_stale_reply_to_other_command_is_skipped(emulator: DCA1000Emulator) -> None:
    emulator.queue_stray_reply(Command.RECORD_STOP, 5)  # e.g. a late answer to a retry
    with control_for(emulator, timeout_s=5.0) as card:
        assert card.local_address[0] == "127.0.0.1"
        card.connect()  # must not take the RECORD_STOP reply (status 5) for its own
        sock = card._sock
        assert sock is not None
        sock.sendto(b"junk", ("127.0.0.1", emulator.config_port))
        card.connect()
    assert card.stray_replies == 1
    assert emulator.malformed_commands == 1


def test_unbindable_host_address_is_device_not_found() -> None:
    card = DCA1000Control("192.0.2.180", host_ip="192.0.2.30", host_config_port=0, name="radar_v")
    with pytest.raises(DeviceNotFound, match="radar_v"):
        card.connect()
