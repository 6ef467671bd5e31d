"""Billing: plans and quotas, usage counters, Stripe subscriptions and billing accounts.

- ``plans``: the plan catalogue (``plans.yaml``): quotas per workspace and month.
- ``accounts``: billing accounts (``billing_accounts/{account_id}``), which workspaces they pay
  for, their subscription state, and what that state allows (``service_state``).
- ``quota``: how close a workspace is to a limit (ok, warning, reached, exceeded).
- ``usage``: the monthly reply counters (one document per workspace and day) and the cached
  check the turn makes before the model runs.
- ``stripe_api``: Stripe calls (customers, Checkout, Customer Portal, subscriptions) through
  the ``stripe`` library against a configurable API base (locally: the simulator's ``/stripe``).
- ``webhooks``: Stripe events received by ``functions/billing``: signature, dedupe, ordering.
"""
