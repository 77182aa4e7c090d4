"""Signed callbacks to applications, delivered through the job queue."""
