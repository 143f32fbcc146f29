"""Governance: the hash-chained audit log (lineage, fairness and model cards come later)."""

from .audit import AuditEvent, AuditReport, list_events, record, verify

__all__ = ["AuditEvent", "AuditReport", "list_events", "record", "verify"]
