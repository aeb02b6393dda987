"""Modbus T/RH transmitter served by a pymodbus server (TCP, or RTU on a pseudo-terminal); registers are
computed from the ambient model at the moment each request arrives, with the same register map the driver
uses."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import random

from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerRTU
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from labd.drivers.instruments.modbus_ambient import REGISTER_MAPS, Register, encode

from .line_server import FAULTS, Fault
from .null_modem import NullModem
from .physics import AmbientModel

log = logging.getLogger("labd.sim")


class ModbusAmbientSim:
    def __init__(self, model: AmbientModel, *, register_map: str | list[dict] = "xy-md02", unit: int = 1) -> None:
        self.model, self.unit = model, unit
        self.registers = REGISTER_MAPS[register_map] if isinstance(register_map, str) else \
            tuple(Register.from_config(r) for r in register_map)
        self.fault: Fault | None = None
        self.requests = 0
        self._server: ModbusTcpServer | ModbusSerialServer | None = None
        self._modem: NullModem | None = None
        self._task: asyncio.Task | None = None
        self.port = 0
        self.size = max(r.address + r.count for r in self.registers) + 8

    def inject(self, mode: str, count: int | None = 1, downtime: float = 0.5) -> None:
        if mode not in FAULTS:
            raise ValueError(f"unknown fault {mode!r}")
        self.fault = Fault(mode, count, downtime)

    def clear(self) -> None:
        self.fault = None

    def _take_fault(self) -> Fault | None:
        fault = self.fault
        if fault is not None and fault.remaining is not None:
            fault.remaining -= 1
            if fault.remaining <= 0:
                self.fault = None
        return fault

    def _value(self, reg: Register) -> float:
        return self.model.temperature() if reg.quantity == "temperature" else self.model.humidity()

    async def _action(self, function_code, start_address, address, count, registers, set_values):
        self.requests += 1
        # Like the HMT330, FC03 and FC04 return the same data: fill every mapped register on any read.
        for reg in self.registers:
            for i, w in enumerate(encode(reg, self._value(reg))):
                registers[reg.address - start_address + i] = w
        return None

    def _trace(self, sending: bool, data: bytes) -> bytes:
        if not sending:
            return data
        fault = self._take_fault()
        if fault is None:
            return data
        if self._modem is not None:
            return self._trace_rtu(fault, data)
        if fault.mode == "garbage":
            return data[:7] + bytes(random.randrange(256) for _ in range(max(len(data) - 7, 2)))
        if fault.mode == "busy":
            # Exception response: function code with the high bit set, code 6 (device busy).
            return data[:4] + (3).to_bytes(2, "big") + data[6:7] + bytes([data[7] | 0x80, ExcCodes.DEVICE_BUSY])
        if fault.mode == "disconnect":
            asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(self._bounce(fault.downtime)))
            return b""
        return b""  # no_reply

    def _trace_rtu(self, fault: Fault, data: bytes) -> bytes:
        # An RTU frame is unit, function, payload, CRC16 (little-endian): faults must keep that shape.
        if fault.mode == "garbage":
            return data[:2] + bytes(random.randrange(256) for _ in range(max(len(data) - 2, 3)))
        if fault.mode == "busy":
            frame = bytes([data[0], data[1] | 0x80, ExcCodes.DEVICE_BUSY])
            return frame + FramerRTU.compute_CRC(frame).to_bytes(2, "big")
        return b""  # no_reply; a serial line cannot "disconnect" the way a socket does

    def _device(self) -> SimDevice:
        blank = [SimData(0, count=self.size, values=0, datatype=DataType.REGISTERS)]
        bits = [SimData(0, count=1, datatype=DataType.BITS)]
        return SimDevice(id=self.unit, simdata=(bits, bits, blank, [SimData(0, count=self.size, values=0,
                                                                             datatype=DataType.REGISTERS)]),
                         action=self._action)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        if port == 0:
            import socket
            with socket.socket() as s:
                s.bind((host, 0))
                port = s.getsockname()[1]
        self.host, self.port = host, port
        self._server = ModbusTcpServer(self._device(), address=(host, port), trace_packet=self._trace)
        self._task = asyncio.ensure_future(self._server.serve_forever())
        for _ in range(200):  # wait until it listens
            with contextlib.suppress(OSError):
                _, w = await asyncio.open_connection(host, port)
                w.close()
                break
            await asyncio.sleep(0.01)
        return port

    async def start_rtu(self, directory) -> str:
        """Serve Modbus RTU on a pseudo-terminal; returns the serial path a client opens."""
        self._modem = NullModem()
        device_end, client_end = self._modem.open(directory, f"modbus-{self.unit}")
        self._server = ModbusSerialServer(self._device(), port=device_end, baudrate=19200,
                                          trace_packet=self._trace)
        self._task = asyncio.ensure_future(self._server.serve_forever())
        await asyncio.sleep(0.05)  # the server opens its port from a task: let it run once
        return client_end

    async def _bounce(self, downtime: float) -> None:
        await self.stop()
        await asyncio.sleep(downtime)
        await self.start(self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.shutdown()
            self._server = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
            self._task = None
        if self._modem is not None:
            self._modem.close()
            self._modem = None
