"""The ``harness`` command line: thin typed commands over library calls."""
