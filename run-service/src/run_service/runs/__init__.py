"""Runs: taking run requests from thread streams, executing them in order, recording events."""
