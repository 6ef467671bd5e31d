"""Telling people: sellers of handoffs and insights, owners of the day and of notices (issue 10)."""
