"""The front door: home page and health check."""
