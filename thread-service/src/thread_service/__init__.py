"""thread-service: owns thread streams. Consumes thread commands, appends thread events."""
