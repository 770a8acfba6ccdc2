"""Hardening support: shared strategies and settings, the long fuzz driver, regression inputs."""
