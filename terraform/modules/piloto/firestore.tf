# Firestore (Native mode): the database, the indexes the admin API's and the outbox sweep's
# queries need, the vector index of knowledge retrieval, and the TTL policy that lets
# event-dedupe records expire.

resource "google_firestore_database" "main" {
  project                           = var.project_id
  name                              = "(default)"
  location_id                       = var.firestore_location
  type                              = "FIRESTORE_NATIVE"
  concurrency_mode                  = "PESSIMISTIC"
  app_engine_integration_mode       = "DISABLED"
  point_in_time_recovery_enablement = var.firestore_point_in_time_recovery ? "POINT_IN_TIME_RECOVERY_ENABLED" : "POINT_IN_TIME_RECOVERY_DISABLED"
  delete_protection_state           = var.deletion_protection ? "DELETE_PROTECTION_ENABLED" : "DELETE_PROTECTION_DISABLED"
  deletion_policy                   = var.deletion_protection ? "ABANDON" : "DELETE"

  depends_on = [google_project_service.enabled]
}

locals {
  # The inbox lists a tenant's conversations (tenants/{t}/conversations) by updated_at, newest
  # first, filtered by any of these fields (shared/admin/conversations.py). Firestore merges
  # these indexes when a query filters on several fields at once (equality filters with the same
  # ordering), so one composite index per field covers every combination.
  conversation_filters = toset(["status", "assignee_uid", "stage", "channel_id", "needs_human"])

  # Queries on one field alone are served by single-field indexes: a contact's conversations
  # (contact_key ==, LGPD export and deletion) and the dashboard's period (created_at range).
  # They are declared below so that the dependency is visible and stays in place.
  conversation_single_fields = toset(["contact_key", "created_at"])

  # The insight feed (shared/admin/insights.py) lists a tenant's insights (tenants/{t}/insights)
  # newest first by created_at, filtered by any of conversation_id, status and agent_id (merged
  # like the conversation indexes); the traffic report filters on template with a created_at
  # range, in the same order.
  insight_filters = toset(["conversation_id", "status", "agent_id", "template"])
}

resource "google_firestore_index" "conversations" {
  for_each = local.conversation_filters

  project     = var.project_id
  database    = google_firestore_database.main.name
  collection  = "conversations"
  query_scope = "COLLECTION"

  fields {
    field_path = each.value
    order      = "ASCENDING"
  }

  fields {
    field_path = "updated_at"
    order      = "DESCENDING"
  }
}

resource "google_firestore_field" "conversations" {
  for_each = local.conversation_single_fields

  project    = var.project_id
  database   = google_firestore_database.main.name
  collection = "conversations"
  field      = each.value

  index_config {
    indexes {
      order       = "ASCENDING"
      query_scope = "COLLECTION"
    }
    indexes {
      order       = "DESCENDING"
      query_scope = "COLLECTION"
    }
  }
}

resource "google_firestore_index" "insights" {
  for_each = local.insight_filters

  project     = var.project_id
  database    = google_firestore_database.main.name
  collection  = "insights"
  query_scope = "COLLECTION"

  fields {
    field_path = each.value
    order      = "ASCENDING"
  }

  fields {
    field_path = "created_at"
    order      = "DESCENDING"
  }
}

# A webhook endpoint's deliveries (tenants/{t}/event_deliveries), newest first
# (shared/admin/webhooks.py list_deliveries: target_id ==, order by created_at desc).
resource "google_firestore_index" "deliveries" {
  project     = var.project_id
  database    = google_firestore_database.main.name
  collection  = "event_deliveries"
  query_scope = "COLLECTION"

  fields {
    field_path = "target_id"
    order      = "ASCENDING"
  }

  fields {
    field_path = "created_at"
    order      = "DESCENDING"
  }
}

# The outbox sweep (shared/integrations/outbox.py sweep_outbox): across every tenant, the
# business events (tenants/{t}/business_events) not yet taken in by the integrations function
# (published_at == null), occurred_at between a day and a few minutes ago, ordered by occurred_at.
# One collection-group query, so the index's scope is the collection group.
resource "google_firestore_index" "business_events_outbox" {
  project     = var.project_id
  database    = google_firestore_database.main.name
  collection  = "business_events"
  query_scope = "COLLECTION_GROUP"

  fields {
    field_path = "published_at"
    order      = "ASCENDING"
  }

  fields {
    field_path = "occurred_at"
    order      = "ASCENDING"
  }
}

# A member's console notifications (tenants/{t}/notifications), newest first, all or unread
# only (shared/admin/notifications.py: recipient_uid ==, console ==, [read_at == null]).
locals {
  notification_filters = {
    all    = ["recipient_uid", "console"]
    unread = ["recipient_uid", "console", "read_at"]
  }
}

resource "google_firestore_index" "notifications" {
  for_each = local.notification_filters

  project     = var.project_id
  database    = google_firestore_database.main.name
  collection  = "notifications"
  query_scope = "COLLECTION"

  dynamic "fields" {
    for_each = each.value
    content {
      field_path = fields.value
      order      = "ASCENDING"
    }
  }

  fields {
    field_path = "created_at"
    order      = "DESCENDING"
  }
}

# Event-dedupe records (tenants/{t}/events/{event_id}) are deleted once their `expire_at`
# timestamp passes (intake sets it 30 days ahead, shared/intake.py); a provider retrying later
# than PILOTO_MAX_EVENT_AGE_SECONDS is dropped as too old anyway.
# The field is a timestamp that only grows, so it is left out of the single-field indexes
# (indexing it would add writes for nothing and hotspot).
resource "google_firestore_field" "events_ttl" {
  project    = var.project_id
  database   = google_firestore_database.main.name
  collection = "events"
  field      = "expire_at"

  ttl_config {}

  index_config {}
}

# Knowledge retrieval (shared/knowledge/store.py): the nearest chunks of one tenant's knowledge
# by cosine distance, among those embedded by the question's model (an equality filter on
# embedding_model first, so two models' vectors are never compared). Both embedders write
# 768-number vectors (Gemini embeddings reduced to 768, and the offline embedder), so one index
# serves both. A flat index is exact; a tenant's knowledge is small enough for it.
resource "google_firestore_index" "knowledge_chunks" {
  project     = var.project_id
  database    = google_firestore_database.main.name
  collection  = "knowledge_chunks"
  query_scope = "COLLECTION"

  fields {
    field_path = "embedding_model"
    order      = "ASCENDING"
  }

  fields {
    field_path = "embedding"
    vector_config {
      dimension = 768
      flat {}
    }
  }
}
