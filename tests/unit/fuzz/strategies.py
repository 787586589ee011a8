"""Hypothesis strategies over the generator: hypothesis drives the `Random` the
generator draws from, so it replays (derandomized) and shrinks what it finds."""

from __future__ import annotations

import os
import random

from hypothesis import strategies as st

from tests.unit.fuzz.catalogue import Endpoint
from tests.unit.fuzz.generate import FuzzRequest, World, request

# examples per route: small in CI, `CASCADE_FUZZ_EXAMPLES=200` for a long local run
EXAMPLES = int(os.environ.get("CASCADE_FUZZ_EXAMPLES", "10"))


def requests(endpoint: Endpoint, world: World) -> st.SearchStrategy[FuzzRequest]:
    """Odd requests for `endpoint` (see `generate.request`)."""

    def draw(rng: random.Random) -> FuzzRequest:
        return request(rng, endpoint, world)

    return st.randoms(use_true_random=False).map(draw)
