"""One parser per log format; each yields flat event dicts and reports what it could not read.

A parser is ``parse(source, issues) -> Iterator[dict]``. Event keys are the format's own field
names (what Sigma rules reference) plus the normalised ``_``-prefixed columns of
:mod:`enclave.cyber.parsers.base` that analytics, incidents and evidence use across formats.
"""
