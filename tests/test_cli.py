"""`labd sim` and `labd instruments` as a technician runs them, and configuration errors."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial

from labd.daemon.config import ConfigError, load_config

REPO = Path(__file__).resolve().parent.parent
LABD = [sys.executable, "-m", "labd"]


def test_labd_sim_serves_every_instrument_to_plain_clients(tmp_path):
    addresses = tmp_path / "addresses.json"
    proc = subprocess.Popen([*LABD, "sim", "--addresses", str(addresses), "--speed", "20"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for _ in range(300):
            if addresses.exists():
                break
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.05)
        found = json.loads(addresses.read_text())
        assert set(found) == set(load_config(REPO / "config").instruments)
        assert found["balance"]["driver"] == "mettler-sics"

        # A plain pyserial client sends S + CR LF to the simulated balance.
        time.sleep(0.3)
        with serial.Serial(found["balance"]["address"], 9600, timeout=5) as port:
            port.write(b"S\r\n")
            reply = port.readline()
        assert reply.startswith(b"S S ") and reply.endswith(b" g\r\n")

        # A plain TCP client asks the readout who it is.
        port_no = int(found["ref_readout"]["address"].split("::")[2])
        with socket.create_connection(("127.0.0.1", port_no), timeout=5) as s:
            s.sendall(b"*IDN?\n")
            assert s.recv(100).startswith(b"HART,1529")

        # A plain pymodbus client reads the ambient sensor.
        from pymodbus.client import ModbusTcpClient
        url = found["ambient"]["address"]
        host_port = url.split("//")[1].split("?")[0]
        client = ModbusTcpClient("127.0.0.1", port=int(host_port.split(":")[1]))
        assert client.connect()
        reply = client.read_input_registers(1, count=2, device_id=1)
        client.close()
        assert 150 < reply.registers[0] < 300 and 0 < reply.registers[1] <= 1000  # 15–30 °C, RH ×10
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0


def test_labd_instruments_simulated_identifies_everything():
    result = subprocess.run([*LABD, "instruments", "--simulate"], cwd=REPO, capture_output=True, text=True,
                            timeout=120, env={**os.environ, "COLUMNS": "250"})
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("XS205", "HART,1529", "FLUKE,9142", "Hart 9140", "FLUKE,5520A", "34465A", "xy-md02"):
        assert name in result.stdout


def _copy_config(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(REPO / "config", target)
    return target


@pytest.mark.parametrize("file, old, new, key, reason", [
    ("instruments.toml", 'driver = "mettler-sics"', 'driver = "mettler"', "instruments.balance.driver",
     "unknown driver 'mettler'"),
    ("instruments.toml", 'address = "/dev/ttyUSB0"', 'address = "http://x"', "instruments.balance.address",
     "unknown address scheme"),
    ("instruments.toml", 'serial = { baudrate = 9600 }', 'serial = { baud = 9600 }', "instruments.balance.serial",
     "unknown serial settings"),
    ("instruments.toml", 'serial = { baudrate = 9600 }', 'serial = { baudrate = 9600 }\nline = { eol = "x" }',
     "instruments.balance.line", "unknown line settings ['eol']"),
    ("instruments.toml", 'serial = { baudrate = 9600 }', 'serial = { baudrate = 9600 }\nline = { read_termination = "" }',
     "instruments.balance.line", "one to four characters"),
    ("lab.toml", 'station = "bench-1"', 'station = 5', "lab.station", "valid string"),
    ("lab.toml", 'sensor = "ambient"', 'sensor = "nope"', "environment.sensor", "no instrument 'nope'"),
])
def test_bad_config_names_file_key_and_reason(tmp_path, file, old, new, key, reason):
    cfg = _copy_config(tmp_path)
    path = cfg / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(ConfigError) as exc:
        load_config(cfg)
    assert exc.value.file == str(path) and exc.value.key == key and reason in exc.value.reason


def test_bad_toml_and_cli_message(tmp_path):
    cfg = _copy_config(tmp_path)
    (cfg / "instruments.toml").write_text("[instruments.x\n")
    result = subprocess.run([*LABD, "instruments", "--config", str(cfg)], cwd=REPO, capture_output=True, text=True)
    assert result.returncode != 0
    assert "instruments.toml" in result.stderr and "not valid TOML" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_simulation_parameters_are_named(tmp_path):
    cfg = _copy_config(tmp_path)
    path = cfg / "instruments.toml"
    path.write_text(path.read_text().replace("tau = 240.0", "tau_s = 240.0"))
    result = subprocess.run([*LABD, "sim", "--config", str(cfg)], cwd=REPO, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode != 0
    assert "instruments.dry_block.simulation" in result.stderr and "tau_s" in result.stderr
