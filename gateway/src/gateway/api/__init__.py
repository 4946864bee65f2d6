"""HTTP routes: one module per group of the spec's routes."""
