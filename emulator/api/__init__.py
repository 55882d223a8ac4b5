"""The /api/ generation: one router per resource, vendor field names, the envelope."""
