"""Block Storage errors in Cinder's own body: `{"<faultName>": {"code", "message"}}`.

Cinder names its faults as Nova does (400 badRequest, 404 itemNotFound, 406
computeFault, 413 overLimit, ...), so the body is Nova's (`api.faults`).
"""

from __future__ import annotations

from cascade.api.faults import Fault


class VolumeError(Fault):
    pass
