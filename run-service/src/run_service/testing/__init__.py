"""Test support shipped with run-service (a scripted model server)."""
