"""The admin API behind the console: ``functions/admin`` serves it under ``/api``.

- ``routes``: the route table (method, path, roles, request and response models), also the
  source of the OpenAPI document; ``http`` dispatches a request through it.
- ``auth``: Firebase ID tokens → the caller; ``access``: tenant membership and roles.
- ``tenants``, ``channels``, ``agent``, ``conversations``, ``metrics``, ``contacts``: the
  resources; ``audit``: every change written through the API, with who, when and what.
"""
