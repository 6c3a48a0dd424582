"""The action names recorded in the audit log, so auditors can filter on them (``--action auth.*``).

Names are ``area.verb`` (``ask`` and ``search`` stand alone). A new kind of event gets a constant
here and a row in docs/audit.md.
"""

from __future__ import annotations

AUDIT_CREATED = "audit.created"  # entry 0: format, key_id, public_key
AUDIT_RECOVERED = "audit.recovered"  # a writer died without closing; the unsigned tail was checked
AUTH_SUCCESS = "auth.success"
AUTH_FAILURE = "auth.failure"
AUTH_FORBIDDEN = "auth.forbidden"
ASK_START = "ask.start"
ASK = "ask"
SEARCH = "search"
GUARD_DECISION = "guard.decision"
INGEST = "ingest"
INGEST_REFUSED = "ingest.refused"
DOCUMENT_DELETE = "document.delete"
USER_ADD = "user.add"
USER_CLEARANCE = "user.clearance"
USER_ROLES = "user.roles"
USER_DISABLE = "user.disable"
USER_ENABLE = "user.enable"
USER_ROTATE_TOKEN = "user.rotate_token"  # noqa: S105 - an action name, not a token
CONFIG_CHANGE = "config.change"
SERVER_START = "server.start"
SERVER_STOP = "server.stop"

ALL = tuple(value for name, value in sorted(globals().items()) if name.isupper() and isinstance(value, str))
