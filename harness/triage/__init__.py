"""Triage: rank encoders in minutes from their frozen features (proxy scores), and hold each
proxy to account against the MLLM scores a sweep (or a paper) measured for the same encoders.

Bottom to top: ``scenes`` (the pictures), ``data`` (drawn once, encoded per encoder),
``proxies`` and ``alignment`` (the scores), ``service`` (runs them and records each result),
``correlate`` (how well each proxy predicted) and ``recommend`` (``--budget K``).
"""
