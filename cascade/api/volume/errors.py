"""Block Storage errors in Cinder's own body: `{"<faultName>": {"code", "message"}}`.

Cinder names its faults as Nova does (400 badRequest, 404 itemNotFound, 406
computeFault, 413 overLimit, ...), so the body is Nova's: a `VolumeError` is a
`ComputeError` with the volume microversion headers.
"""

from __future__ import annotations

from cascade.api.compute.errors import ComputeError


class VolumeError(ComputeError):
    pass
