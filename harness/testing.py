"""Instruments for tests and benchmarks (the harness's own and encoder plugins'): what a run
really computed, seen from outside it."""

from __future__ import annotations

from harness.encoder import Encoder


class ForwardCounter:
    """Counts the images that pass through any encoder's forward while active, e.g. to see
    what the frozen-encoder feature cache saved::

        with ForwardCounter() as forwards:
            run_the_sweep()
        print(forwards.n)
    """

    def __init__(self) -> None:
        self.n = 0

    def __enter__(self) -> ForwardCounter:
        self._forward = forward = Encoder.forward

        def counted(encoder: Encoder, pixels):  # type: ignore[no-untyped-def]
            self.n += pixels.shape[0]
            return forward(encoder, pixels)

        Encoder.forward = counted  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        Encoder.forward = self._forward  # type: ignore[method-assign]
