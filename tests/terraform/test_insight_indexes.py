"""The Firestore indexes of the insight feed and traffic report queries (shared/admin/insights)."""

from __future__ import annotations

import re

from shared.admin.insights import INSIGHTS
from tests.terraform.hcl import MODULE, load
from tests.terraform.test_module_wiring import expression


def test_the_insight_queries_have_their_indexes() -> None:
    module = load(MODULE)
    filters = set(re.findall(r'"(\w+)"', module.locals["insight_filters"]))
    assert filters == {"conversation_id", "status", "agent_id", "template"}
    index = module.resource("google_firestore_index", "insights")
    assert expression(index["for_each"]) == "local.insight_filters"
    assert (index["collection"], index["query_scope"]) == (INSIGHTS, "COLLECTION")
    assert index["fields"] == [
        {"field_path": "${each.value}", "order": "ASCENDING"},
        {"field_path": "created_at", "order": "DESCENDING"},
    ]


def test_the_code_filters_on_the_indexed_fields_and_orders_by_created_at() -> None:
    source = (MODULE.parents[2] / "shared" / "admin" / "insights.py").read_text(encoding="utf-8")

    assert '("conversation_id", "status", "agent_id")' in source
    assert 'equal("template", TRAFFIC_TEMPLATE)' in source
    assert source.count('order_by("created_at", direction=firestore.Query.DESCENDING)') == 2
