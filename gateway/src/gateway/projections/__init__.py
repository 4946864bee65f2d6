"""Read models the gateway answers from, maintained from events and rebuildable by replay."""
