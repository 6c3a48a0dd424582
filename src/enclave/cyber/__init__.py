"""Cyber threat detection: security logs in; Sigma and behavioural detections, ATT&CK-mapped
incidents, LLM triage and an offline HTML report out. See docs/cyber.md."""

from __future__ import annotations

from enclave.cyber.errors import ArchiveRefused, CyberError
from enclave.cyber.scan import ScanOptions, ScanResult, run_scan

__all__ = ["ArchiveRefused", "CyberError", "ScanOptions", "ScanResult", "run_scan"]
