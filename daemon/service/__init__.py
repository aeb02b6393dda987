"""The service (`labd serve`): procedures on command and on schedule, live readings, MQTT, streaming to the
time-series server, the dashboard, health and metrics."""
from .core import Service
from .mqtt import BrokerAddress, MqttUrlError

__all__ = ["BrokerAddress", "MqttUrlError", "Service"]
