"""Reusable test suites for file-service's ports."""
