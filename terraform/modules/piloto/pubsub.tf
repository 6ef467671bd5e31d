# The Pub/Sub topology of shared/events/topology.py: conversation events from the webhook to the
# agent, outbound messages from decisions to the sender, insight events (a lead's message, a
# conversation won, lost or idle, a seller's macro) to the insight agents, business events (a
# conversation started, qualified, won; a meeting booked) to the integrations fan-out. Every push
# subscription authenticates with OIDC as its own service account, keeps order per key where the
# code needs it (tenant:contact, tenant:conversation), backs off exponentially and dead-letters
# what keeps failing. Messages stay in var.region.

locals {
  topics = toset(["conversation-events", "outbound-messages", "insight-events", "business-events"])

  # Subscription name => where it pushes. ack_deadline_seconds is also how long Pub/Sub waits for
  # the push answer, so it matches the service's timeout (run.tf).
  push_subscriptions = {
    "conversation-events-agent" = {
      topic                 = "conversation-events"
      function              = "agent"
      ordered               = true
      ack_deadline_seconds  = 300
      max_delivery_attempts = 10
    }
    # The sender answers 429 while a channel's send rate is full: a burst on a slow gateway
    # (Evolution API, Z-API: one message every 2 s) can take several redeliveries, so more
    # attempts before a message is dead-lettered.
    "outbound-messages-sender" = {
      topic                 = "outbound-messages"
      function              = "sender"
      ordered               = true
      ack_deadline_seconds  = 120
      max_delivery_attempts = 20
    }
    # Every insight event stands alone (no order); a run is up to two model calls per agent.
    "insight-events-insights" = {
      topic                 = "insight-events"
      function              = "insights"
      ordered               = false
      ack_deadline_seconds  = 120
      max_delivery_attempts = 10
    }
    # Business events fan out into deliveries that retry on their own (Cloud Tasks): no order.
    "business-events-integrations" = {
      topic                 = "business-events"
      function              = "integrations"
      ordered               = false
      ack_deadline_seconds  = 60
      max_delivery_attempts = 10
    }
  }

  pubsub_service_agent = "serviceAccount:${google_project_service_identity.pubsub.email}"
}

resource "google_pubsub_topic" "app" {
  for_each = local.topics

  project                    = var.project_id
  name                       = each.value
  labels                     = local.labels
  message_retention_duration = "86400s"

  message_storage_policy {
    allowed_persistence_regions = [var.region]
  }

  depends_on = [google_project_service.enabled]
}

# One dead-letter topic per push subscription, with a pull subscription that keeps what lands
# there for a week (inspect with `gcloud pubsub subscriptions pull`, replay by republishing).
resource "google_pubsub_topic" "dead_letter" {
  for_each = local.push_subscriptions

  project = var.project_id
  name    = "${each.key}-dead-letter"
  labels  = local.labels

  message_storage_policy {
    allowed_persistence_regions = [var.region]
  }

  depends_on = [google_project_service.enabled]
}

resource "google_pubsub_subscription" "dead_letter" {
  for_each = local.push_subscriptions

  project                    = var.project_id
  name                       = "${each.key}-dead-letter"
  topic                      = google_pubsub_topic.dead_letter[each.key].id
  labels                     = local.labels
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"

  expiration_policy {
    ttl = "" # never expires
  }
}

resource "google_pubsub_subscription" "push" {
  for_each = local.push_subscriptions

  project                    = var.project_id
  name                       = each.key
  topic                      = google_pubsub_topic.app[each.value.topic].id
  labels                     = local.labels
  ack_deadline_seconds       = each.value.ack_deadline_seconds
  message_retention_duration = "604800s"
  enable_message_ordering    = each.value.ordered

  push_config {
    push_endpoint = google_cloud_run_v2_service.function[each.value.function].uri

    oidc_token {
      service_account_email = google_service_account.push[each.key].email
    }
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter[each.key].id
    max_delivery_attempts = each.value.max_delivery_attempts
  }

  expiration_policy {
    ttl = "" # never expires
  }

  depends_on = [
    google_cloud_run_v2_service_iam_member.pubsub_push,
    google_pubsub_topic_iam_member.dead_letter_publisher,
  ]
}

# The Pub/Sub service agent forwards undeliverable messages: it publishes to the dead-letter
# topic and acknowledges on the source subscription. It also mints the push OIDC tokens (needed
# in projects created before April 2021).
resource "google_project_service_identity" "pubsub" {
  provider = google-beta

  project = var.project_id
  service = "pubsub.googleapis.com"

  depends_on = [google_project_service.enabled]
}

resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = local.push_subscriptions

  project = var.project_id
  topic   = google_pubsub_topic.dead_letter[each.key].name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  for_each = local.push_subscriptions

  project      = var.project_id
  subscription = google_pubsub_subscription.push[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}

resource "google_service_account_iam_member" "push_token_creator" {
  for_each = local.push_subscriptions

  service_account_id = google_service_account.push[each.key].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent
}

# Who publishes where (shared/webhooks.py: events; shared/engine.py outbound_publisher: turn and
# followup; the admin API: a seller's messages; shared/insights/events.py: the agent a lead's
# message, followup an idle conversation, the admin API a close won or lost and a macro press;
# shared/integrations: turns, follow-ups, the admin API and the insight agents the business
# events, and the outbox sweep re-publishes those whose publish after the commit failed).
locals {
  topic_publishers = {
    "conversation-events webhook" = { topic = "conversation-events", function = "webhook" }
    "outbound-messages turn"      = { topic = "outbound-messages", function = "turn" }
    "outbound-messages followup"  = { topic = "outbound-messages", function = "followup" }
    "outbound-messages admin"     = { topic = "outbound-messages", function = "admin" }
    "insight-events agent"        = { topic = "insight-events", function = "agent" }
    "insight-events followup"     = { topic = "insight-events", function = "followup" }
    "insight-events admin"        = { topic = "insight-events", function = "admin" }
    "outbound-messages reminder"  = { topic = "outbound-messages", function = "reminder" }
    "business-events turn"        = { topic = "business-events", function = "turn" }
    "business-events followup"    = { topic = "business-events", function = "followup" }
    "business-events admin"       = { topic = "business-events", function = "admin" }
    "business-events insights"    = { topic = "business-events", function = "insights" }
    "business-events outbox"      = { topic = "business-events", function = "outbox" }
  }
}

resource "google_pubsub_topic_iam_member" "publisher" {
  for_each = local.topic_publishers

  project = var.project_id
  topic   = google_pubsub_topic.app[each.value.topic].name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${google_service_account.function[each.value.function].email}"
}
