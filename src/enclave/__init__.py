"""Enclave: a sovereign, offline AI workbench for classified networks."""

from enclave.offline import set_offline_switches

set_offline_switches()

__version__ = "0.1.0"
