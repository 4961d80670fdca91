"""Benchmarks: how fast the pipeline is on this machine, always beside the ceiling measured in the same run.

``python -m bench <scenario> [--events N] [--quick]`` (``./dev bench …``); see ``docs/benchmarks.md``.
"""
