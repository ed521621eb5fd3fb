"""Evaluation: benchmarks, prompts, answer extraction, scoring and the runner."""
