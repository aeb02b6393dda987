"""What a calibration declares about its customer and its item, for the certificate (ISO/IEC 17025 7.8.2.1 e–g,
7.8.4.1): shared by every calibration procedure, amendable (7.5.2) because no measurement or calculation uses it.

The item's description, serial and their defaults belong to each procedure (a balance is not a multimeter); the
rest is here. Manufacturer, model and serial are taken from the instrument itself wherever it identifies itself
(`steps.item`); what is declared here fills in what it cannot say.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .params import param


@dataclass(frozen=True)
class ItemParameters:
    customer: str = param("", description="the customer, for the certificate", amendable=True)
    work_order: str = param("", description="the work order, for the certificate", amendable=True)
    customer_address: str = param("", description="the customer's address, for the certificate", amendable=True)
    received: str = param("", description="date the item was received (YYYY-MM-DD), for the certificate", amendable=True)
    uut_manufacturer: str = param("", description="manufacturer of the unit under test (else as it identifies itself)", amendable=True)
    uut_model: str = param("", description="model of the unit under test (else as it identifies itself)", amendable=True)
    uut_condition: str = param("", description="condition of the item on receipt, for the certificate", amendable=True)

    def check_declared(self) -> None:
        """The date the item was received, when given, is a date (YYYY-MM-DD) not in the future."""
        if not self.received:
            return
        try:
            day = date.fromisoformat(self.received)
        except ValueError:
            raise ValueError(f"received: {self.received!r} is not a date (YYYY-MM-DD)") from None
        if day > date.today():
            raise ValueError(f"received: {self.received} is in the future")
