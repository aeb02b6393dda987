"""Modbus RTU and TCP transport (pymodbus async client; pymodbus is pinned, its API moved within 3.x)."""
from __future__ import annotations

import asyncio
import logging

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException

from .errors import Disconnected, InstrumentReportedError, InstrumentTimeout
from .stream import SerialSettings
from .transport import LineSettings, Transport

log = logging.getLogger("labd.io")

MODBUS_EXCEPTIONS = {
    1: "illegal function", 2: "illegal data address", 3: "illegal data value",
    4: "device failure", 5: "acknowledge", 6: "device busy", 10: "gateway path unavailable",
    11: "gateway target failed to respond",
}


class ModbusTransport(Transport):
    def __init__(self, instrument: str, *, unit: int = 1, host: str | None = None, port: int = 502,
                 serial_port: str | None = None, serial_settings: SerialSettings | None = None,
                 settings: LineSettings | None = None) -> None:
        super().__init__(instrument, settings)
        self.unit = unit
        self.host, self.port = host, port
        self.serial_port = serial_port
        self.serial_settings = serial_settings or SerialSettings()
        self._client: AsyncModbusTcpClient | AsyncModbusSerialClient | None = None

    async def _connect(self) -> None:
        timeout = self.settings.timeout
        client: AsyncModbusTcpClient | AsyncModbusSerialClient
        if self.host is not None:
            client = AsyncModbusTcpClient(self.host, port=self.port, timeout=timeout, retries=0, reconnect_delay=0)
        else:
            s = self.serial_settings
            assert self.serial_port is not None      # parse_address gives a host or a port
            client = AsyncModbusSerialClient(self.serial_port, baudrate=s.baudrate, bytesize=s.bytesize,
                                             parity=s.parity, stopbits=int(s.stopbits), timeout=timeout,
                                             retries=0, reconnect_delay=0)
        if not await client.connect():
            client.close()
            raise ConnectionError(f"modbus connect to {self.host or self.serial_port} failed")
        self._client = client

    async def _disconnect(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client = None

    async def read_registers(self, address: int, count: int, function: int = 3, timeout: float | None = None) -> list[int]:
        """Read `count` 16-bit registers with FC03 (holding) or FC04 (input)."""
        if function not in (3, 4):
            raise ValueError(f"function code {function} cannot read registers (use 3 or 4)")
        timeout = self.settings.timeout if timeout is None else timeout
        async with self.lock:
            await self._ensure_connected()
            client = self._client
            assert client is not None
            call = client.read_holding_registers if function == 3 else client.read_input_registers
            try:
                async with asyncio.timeout(timeout):   # not wait_for: it can swallow a cancellation on 3.11
                    reply = await call(address, count=count, device_id=self.unit)
            except TimeoutError:
                await self._drop()
                raise InstrumentTimeout(self.instrument, f"no Modbus reply within {timeout:g} s") from None
            except ConnectionException as exc:
                await self._drop()
                raise Disconnected(self.instrument, f"Modbus connection lost: {exc}") from exc
            except ModbusException as exc:
                # pymodbus reports a missing reply as a ModbusIOException after its own timeout.
                await self._drop()
                raise InstrumentTimeout(self.instrument, f"Modbus exchange failed: {exc}") from exc
            if reply.isError():
                code = getattr(reply, "exception_code", None)
                text = MODBUS_EXCEPTIONS.get(code, "unknown exception") if code is not None else "no code"
                raise InstrumentReportedError(self.instrument, f"Modbus exception {code} ({text}) reading "
                                              f"FC{function:02d} register {address}", code=code)
            regs = list(reply.registers)
            if len(regs) < count:
                raise InstrumentReportedError(self.instrument, f"short Modbus reply: {len(regs)} of {count} registers")
            if log.isEnabledFor(logging.DEBUG):
                log.debug("%s FC%02d %d+%d < %s", self.instrument, function, address, count, regs)
            return regs[:count]
