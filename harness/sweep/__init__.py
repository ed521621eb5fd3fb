"""Sweeps: plan runs, submit them through submitit, run each job, write its record."""
