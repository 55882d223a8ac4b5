"""The vendor's current generation, /vodencoding/v1/: thin routers over the /api/ services."""
