"""The lab's instruments and the service: `labd sim`, `labd instruments`, `labd serve`."""
from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from datetime import timezone
from pathlib import Path

import click
from rich.table import Table

from .common import config as load, config_option, console, err_console, records_option, run_daemon


@click.command()
@config_option
@click.option("--addresses", type=click.Path(dir_okay=False), default=None,
              help="Write the simulated instruments' addresses to this JSON file.")
@click.option("--speed", type=float, default=1.0, show_default=True, help="Time acceleration factor.")
@click.option("--seed", type=int, default=None, help="Random seed for reproducible noise.")
@click.option("--control", "control_port", type=click.IntRange(0, 65535), default=None,
              help="Listen on this loopback TCP port (0: any free one) for fault commands: "
                   "list | inject ID MODE [COUNT|always] [DOWNTIME] | clear ID|all (docs/simulators.md).")
@click.option("--fault", "faults", multiple=True, metavar="ID:MODE[:COUNT]",
              help="Arm a fault at start: no_reply, garbage, busy or disconnect, COUNT replies or 'always'.")
def sim(config_dir: str | None, addresses: str | None, speed: float, seed: int | None, control_port: int | None,
        faults: tuple[str, ...]) -> None:
    """Run the simulated lab described by the configuration until interrupted."""
    from labd.simulators import SimulatedLab, SimulationConfigError
    from labd.simulators.control import FaultControl, FaultSpec
    config = load(config_dir)
    try:
        specs = [FaultSpec.parse(text) for text in faults]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--fault") from None

    async def run() -> None:
        lab = SimulatedLab(config.instruments, speed=speed, seed=seed, ambient_id=config.environment.sensor)
        try:
            found = await lab.start()
        except SimulationConfigError as exc:
            raise click.ClickException(f"{config.directory / 'instruments.toml'}: {exc}") from None
        control = FaultControl(lab.servers, {iid: a["driver"] for iid, a in found.items()})
        try:
            for spec in specs:
                console.print(control.apply(spec))
        except ValueError as exc:
            await lab.stop()
            raise click.BadParameter(str(exc), param_hint="--fault") from None
        text = json.dumps(found, indent=2)
        if addresses:
            tmp = Path(addresses).with_suffix(".tmp")
            tmp.write_text(text)
            tmp.replace(addresses)  # readers never see a half-written file
        console.print(text)
        console.print(f"[green]simulated lab running at ×{speed:g}; Ctrl-C to stop[/]")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            if control_port is not None:
                port = await control.start(control_port)
                console.print(f"fault control on 127.0.0.1:{port}")     # after the addresses: both are ready
            await stop.wait()
        finally:
            await control.stop()
            await lab.stop()

    asyncio.run(run())


@click.command()
@config_option
@click.option("--simulate", is_flag=True, help="Use the simulated lab instead of the configured addresses.")
def instruments(config_dir: str | None, simulate: bool) -> None:
    """Identify every configured instrument and take one reading from each."""
    from labd.daemon.engine import bench
    from labd.drivers import InstrumentError
    config = load(config_dir)

    async def run() -> int:
        failures = 0
        table = Table(title="Instruments" + (" (simulated)" if simulate else ""))
        for col in ("id", "driver", "address", "identity", "reading"):
            table.add_column(col)
        async with bench(config, simulate=simulate) as (instruments, _lab):
            for iid, inst in instruments.items():
                cfg = config.instruments[iid]
                address = inst.transport.address
                try:
                    await inst.open()
                    identity = await inst.identify()
                    readings = await inst.sample()
                    shown = ", ".join(f"{r.value:g} {r.unit}" + (f" (ch {r.channel})" if r.channel else "")
                                      for r in readings)
                    table.add_row(iid, cfg.driver, str(address), identity, shown)
                except (InstrumentError, OSError) as exc:
                    failures += 1
                    table.add_row(iid, cfg.driver, str(address), "[red]error[/]", f"[red]{exc}[/]")
        console.print(table)
        return failures

    sys.exit(1 if run_daemon(run()) else 0)


@click.command()
@config_option
@click.option("--simulate", is_flag=True, help="Serve the simulated lab, started in this process.")
@click.option("--speed", type=float, default=1.0, show_default=True, help="Time acceleration when simulating.")
@click.option("--mqtt", "mqtt_url", default=None, metavar="URL",
              help="mqtt://host:port (or mqtts://); overrides [mqtt] url. Credentials: [mqtt] username and "
                   "password_file, or LABD_MQTT__USERNAME / LABD_MQTT__PASSWORD.")
@click.option("--influx", "influx_url", default=None, metavar="URL",
              help="http://host:port of a server with the InfluxDB v2 write API; overrides [influx] url.")
@records_option
@click.option("--seed", type=int, default=None, help="Random seed of the simulated lab.")
@click.option("--sim-date", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M"]), default=None,
              help="Date and time the simulated lab's clock starts at.")
@click.option("--dashboard", "dashboard_port", type=int, default=None, metavar="PORT",
              help="Serve the live dashboard on 127.0.0.1:PORT (default: [service] dashboard_port).")
@click.option("--metrics", "metrics_port", type=int, default=None, metavar="PORT",
              help="Serve /healthz and Prometheus /metrics on 127.0.0.1:PORT (default: [service] metrics_port).")
def serve(config_dir, simulate, speed, mqtt_url, influx_url, records, seed, sim_date, dashboard_port,
          metrics_port) -> None:
    """Run the service: procedures on command (MQTT) and on schedule, live readings, records, streaming."""
    from labd.daemon.service import BrokerAddress, MqttUrlError, Service
    config = load(config_dir)
    start = sim_date.replace(tzinfo=timezone.utc).timestamp() if sim_date else None
    service = Service(config, simulate=simulate, speed=speed, seed=seed, mqtt_url=mqtt_url, influx_url=influx_url,
                      records_path=records, sim_start=start, dashboard_port=dashboard_port,
                      metrics_port=metrics_port)
    if service.mqtt_url:
        try:
            broker = BrokerAddress.parse(service.mqtt_url)
        except MqttUrlError as exc:
            raise click.ClickException(str(exc)) from None
        if mqtt_url and broker.password:
            err_console.print("[yellow]warning: a password in --mqtt is visible to every user of this machine "
                              "(ps); use \\[mqtt] password_file or LABD_MQTT__PASSWORD[/]")

    async def main_() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await service.run(stop)

    logging.getLogger("labd").setLevel(logging.INFO)
    run_daemon(main_())


COMMANDS = (sim, instruments, serve)
