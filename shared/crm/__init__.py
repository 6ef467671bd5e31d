"""The native CRM integration: RD Station CRM (issue 10)."""
