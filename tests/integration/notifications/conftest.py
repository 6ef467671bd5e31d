"""The admin function served over HTTP, shared with the admin tests (for the bell's routes)."""

from tests.integration.admin.conftest import admin, admin_env, delivery_sink, stripe_simulator

__all__ = ["admin", "admin_env", "delivery_sink", "stripe_simulator"]
