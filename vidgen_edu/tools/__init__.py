"""Maintenance helpers for the book's sources (not used by chapters)."""
