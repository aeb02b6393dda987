"""Ambient temperature/humidity transmitter over Modbus, described by a register map.

Maps differ between makers (function code, 0- or 1-based addresses, scale, data type, word order), so the
map is data: XY-MD02 and Vaisala HMT330 ship here, and config can give any other.
"""
from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any

from ..errors import ProtocolError
from ..kinds import AmbientSensor, Reading
from ..modbus import ModbusTransport
from pydantic import field_validator

from .base import Driver, DriverOptions


class ModbusAmbientOptions(DriverOptions):
    # A shipped register map by name, or the registers themselves (a list of {quantity, address, ...} tables).
    register_map: str | list[dict[str, Any]] = "xy-md02"

    @field_validator("register_map")
    @classmethod
    def _known(cls, v: str | list[dict[str, Any]]) -> str | list[dict[str, Any]]:
        if isinstance(v, str) and v not in REGISTER_MAPS:
            raise ValueError(f"unknown register map {v!r}; shipped maps: {', '.join(REGISTER_MAPS)}")
        if not isinstance(v, str):
            for i, r in enumerate(v):
                try:
                    Register.from_config(r)   # a bad custom register is named here, not at the first reading
                except TypeError as exc:
                    raise ValueError(f"register {i}: {exc}") from None
        return v


@dataclass(frozen=True)
class Register:
    quantity: str
    unit: str
    address: int              # PDU address (0-based)
    function: int = 4         # 3 holding, 4 input
    datatype: str = "int16"   # int16, uint16, int32, uint32, float32
    scale: float = 1.0
    word_order: str = "big"   # "big": high word first; "little": low word first (Vaisala, Binder)

    @property
    def count(self) -> int:
        return 1 if self.datatype in ("int16", "uint16") else 2

    @classmethod
    def from_config(cls, data: dict[str, Any]) -> "Register":
        reg = cls(**data)
        if reg.datatype not in ("int16", "uint16", "int32", "uint32", "float32"):
            raise ValueError(f"unknown datatype {reg.datatype!r}")
        if reg.function not in (3, 4):
            raise ValueError(f"function must be 3 or 4, not {reg.function}")
        if reg.word_order not in ("big", "little"):
            raise ValueError(f"word_order must be 'big' or 'little', not {reg.word_order!r}")
        return reg


REGISTER_MAPS: dict[str, tuple[Register, ...]] = {
    # SHT20 RS-485 transmitter (XY-MD02): input registers 1 and 2, int16 ×0.1 (some units are ×0.01).
    "xy-md02": (
        Register("temperature", "°C", 1, 4, "int16", 0.1),
        Register("humidity", "%RH", 2, 4, "int16", 0.1),
    ),
    # Vaisala HMT330: 1-based 0001 RH and 0003 T as float32, least-significant word first.
    "vaisala-hmt330": (
        Register("humidity", "%RH", 0, 3, "float32", 1.0, "little"),
        Register("temperature", "°C", 2, 3, "float32", 1.0, "little"),
    ),
}


def decode(register: Register, words: list[int]) -> float:
    """Registers → engineering value, with the map's type, word order and scale."""
    if len(words) != register.count or any(not 0 <= w <= 0xFFFF for w in words):
        raise ValueError(f"{register.quantity}: expected {register.count} 16-bit registers, got {words}")
    if register.word_order == "little":
        words = list(reversed(words))
    raw = b"".join(w.to_bytes(2, "big") for w in words)
    fmt = {"int16": ">h", "uint16": ">H", "int32": ">i", "uint32": ">I", "float32": ">f"}[register.datatype]
    value = struct.unpack(fmt, raw)[0] * register.scale
    if not math.isfinite(value):
        raise ValueError(f"{register.quantity}: not a finite number")
    return value


def encode(register: Register, value: float) -> list[int]:
    """Engineering value → registers (the simulator's side of `decode`)."""
    fmt = {"int16": ">h", "uint16": ">H", "int32": ">i", "uint32": ">I", "float32": ">f"}[register.datatype]
    scaled = value / register.scale
    raw = struct.pack(fmt, scaled if register.datatype == "float32" else int(round(scaled)))
    words = [int.from_bytes(raw[i:i + 2], "big") for i in range(0, len(raw), 2)]
    return list(reversed(words)) if register.word_order == "little" else words


def parse_registers(instrument: str, register: Register, words: list[int]) -> float:
    """Registers from the wire → value, or ProtocolError with the raw words."""
    try:
        return decode(register, words)
    except (ValueError, OverflowError) as exc:
        raw = b"".join((w & 0xFFFF).to_bytes(2, "big") for w in words if isinstance(w, int))
        raise ProtocolError(instrument, str(exc), raw) from None


class ModbusAmbientSensor(Driver, AmbientSensor):
    Options = ModbusAmbientOptions
    kind = "ambient-sensor"
    model = "Modbus T/RH transmitter"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        spec = self.options.register_map
        if isinstance(spec, str):
            self.map_name, self.registers = spec, REGISTER_MAPS[spec]
        else:
            self.map_name, self.registers = "custom", tuple(Register.from_config(r) for r in spec)

    @property
    def modbus(self) -> ModbusTransport:
        assert isinstance(self.transport, ModbusTransport)
        return self.transport

    async def identify(self) -> str:
        # These transmitters have no identity register: reading the map proves the device answers.
        await self.read()
        return f"Modbus T/RH transmitter ({self.map_name}) at unit {self.modbus.unit}"

    async def read(self) -> list[Reading]:
        readings = []
        for reg in self.registers:
            words = await self.modbus.read_registers(reg.address, reg.count, reg.function)
            value = parse_registers(self.id, reg, words)
            readings.append(Reading(reg.quantity, value, reg.unit, raw=" ".join(f"{w:04X}" for w in words)))
        return readings

    async def sample(self) -> list[Reading]:
        return await self.read()
