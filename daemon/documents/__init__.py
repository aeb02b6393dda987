"""Documents made from the record: certificates and reports (HTML and PDF, English and Indonesian), their
charts and words, and a run's export as CSV or JSON. Documents read the record through `labd.daemon.records`
and nothing else."""
from .export import export_run
from .reports import DOCUMENTS, Document, ReportError, RunRecord, html_to_pdf, load, render, verified, write_documents

__all__ = ["DOCUMENTS", "Document", "ReportError", "RunRecord", "export_run", "html_to_pdf", "load", "render",
           "verified", "write_documents"]
