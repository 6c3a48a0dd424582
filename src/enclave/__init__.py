"""Enclave: a sovereign, offline AI workbench for classified networks."""

import os

from enclave.offline import set_offline_switches

set_offline_switches()

# torch (embeddings) and llama.cpp (generation) each bring an OpenMP runtime; with the default
# active wait, one's idle threads spin and starve the other on small machines (measured in the
# server: the first SSE event came after ~950 ms instead of ~40 ms on 2 cores). It must be set before
# either library loads, hence here; a site may override it in the environment.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
