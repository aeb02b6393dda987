"""The lab's records: runs, readings, events, results and commands in an append-only, hash-chained SQLite
database. `Records` is the write side (one writer thread, group commit), `RecordsReader` the read side; every
query the rest of labd makes is a method of one of them."""
from .reader import RecordsReader, RunSummary, Verification
from .schema import TABLES, RecordsError
from .store import Records

__all__ = ["TABLES", "Records", "RecordsError", "RecordsReader", "RunSummary", "Verification"]
