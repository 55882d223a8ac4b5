"""The emulator's own surface under /_emulator/ (SPEC.md section 7): health, control, dashboard."""
