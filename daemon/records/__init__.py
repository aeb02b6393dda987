"""The lab's records: runs, readings, events, results and commands in an append-only, hash-chained SQLite
database, sealed by a key kept outside it (seal.py). `Records` is the write side (one writer process, group commit), `RecordsReader` the read side; every
query the rest of labd makes is a method of one of them."""
from .reader import RecordsReader, RunSummary, Verification
from .review import Review, content_digest, review
from .schema import TABLES, RecordsError
from .seal import Head, Seal, keys_folder
from .store import Records
from .writer import CertificateNumber

__all__ = ["TABLES", "CertificateNumber", "Head", "Records", "RecordsError", "RecordsReader", "Review", "RunSummary", "Seal",
           "Verification", "content_digest", "keys_folder", "review"]
