"""The built-in encoders, one module per family. Each module exposes ``ENCODERS``, a list of
specs, and is registered through the ``harness.encoders`` entry-point group exactly as a
third-party plugin would be."""
