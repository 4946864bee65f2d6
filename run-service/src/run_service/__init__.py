"""run-service: executes runs (model tool loop, sandboxed Python). Filled in by a later issue."""
