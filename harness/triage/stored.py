"""How a triage result sits in the store, in one place for the writer and the readers (this
module imports nothing, so the API can read proxy scores without loading torch)."""

RECIPE = "triage"
"""The recipe (and preset) of every triage record: what tells it from a training run."""
BENCHMARK_PREFIX = "proxy:"
"""A proxy's scores sit under the benchmark ``proxy:<name>``: never a measured benchmark."""
KIND = "proxy"
"""The kind of every proxy score (``harness.record.SCORE_KINDS``)."""
