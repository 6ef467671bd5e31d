"""Insight agents, their triggers and the insights they produce (issue 8)."""
