"""Why a file is refused. Readers raise ``Refused``; ``extract_path`` turns it into a RefusedDocument.

A refusal is an expected outcome of a batch (a corrupt PDF, a mis-marked memo), never a crash: the
message says what is wrong and where (line, page, paragraph, attachment) so an ingester can fix it.
"""

from __future__ import annotations

from enclave.errors import EnclaveError


class Refused(EnclaveError):
    """This file (or nested part) cannot be ingested; ``message`` is the precise reason."""
