"""Scale-out tests: PostgreSQL, concurrent claims, API and worker fleets as processes."""
