# Cloud Tasks queues: debounced turns (scheduled by the agent, run by functions/turn) and
# follow-ups with seller-inactivity checks (scheduled by turns and follow-ups, run by
# functions/followup), meeting reminders (scheduled by turns, run by functions/reminder) and
# deliveries (webhooks, CRM, e-mail; run by functions/delivery). Every task carries an OIDC token of the tasks service account, the only
# identity allowed to invoke those two services. Handlers are idempotent and re-check state, so a
# retry is always safe; a task retried long after it was due finds the world moved on.

locals {
  task_queues = {
    # A turn is worth retrying for an hour at most: later, the lead has waited too long and the
    # next message (or a seller) will bring a fresh turn anyway.
    turns = {
      name                      = var.turns_queue_name
      max_dispatches_per_second = 50
      max_concurrent_dispatches = 100
      max_attempts              = 10
      min_backoff               = "2s"
      max_backoff               = "120s"
      max_doublings             = 5
      max_retry_duration        = "3600s"
    }
    # A follow-up step can wait for hours without harm (it re-checks quiet hours and the
    # 24-hour window when it runs), so fewer dispatches at once and a longer retry window.
    followups = {
      name                      = var.followups_queue_name
      max_dispatches_per_second = 20
      max_concurrent_dispatches = 50
      max_attempts              = 20
      min_backoff               = "10s"
      max_backoff               = "900s"
      max_doublings             = 5
      max_retry_duration        = "43200s"
    }
    # Deliveries (webhooks, CRM, e-mail) schedule their own retries with backoff (attempt n+1
    # is a new task), so a queue retry only covers a delivery function that could not answer.
    deliveries = {
      name                      = var.deliveries_queue_name
      max_dispatches_per_second = 20
      max_concurrent_dispatches = 50
      max_attempts              = 5
      min_backoff               = "10s"
      max_backoff               = "300s"
      max_doublings             = 4
      max_retry_duration        = "3600s"
    }
  }

  # The form PILOTO_TASKS_QUEUE and PILOTO_FOLLOWUP_QUEUE take.
  queue_paths = {
    for key, queue in google_cloud_tasks_queue.queue :
    key => "projects/${var.project_id}/locations/${var.region}/queues/${queue.name}"
  }

  # Which functions create tasks on which queue.
  queue_enqueuers = {
    "turns agent"             = { queue = "turns", function = "agent" }
    "followups turn"          = { queue = "followups", function = "turn" }
    "followups followup"      = { queue = "followups", function = "followup" }
    "deliveries integrations" = { queue = "deliveries", function = "integrations" }
    "deliveries delivery"     = { queue = "deliveries", function = "delivery" }
    "deliveries admin"        = { queue = "deliveries", function = "admin" }
    "deliveries digest"       = { queue = "deliveries", function = "digest" }
    "deliveries turn"         = { queue = "deliveries", function = "turn" }
    "deliveries followup"     = { queue = "deliveries", function = "followup" }
    "deliveries billing"      = { queue = "deliveries", function = "billing" }
  }
}

resource "google_cloud_tasks_queue" "queue" {
  for_each = local.task_queues

  project  = var.project_id
  name     = each.value.name
  location = var.region

  rate_limits {
    max_dispatches_per_second = each.value.max_dispatches_per_second
    max_concurrent_dispatches = each.value.max_concurrent_dispatches
  }

  retry_config {
    max_attempts       = each.value.max_attempts
    min_backoff        = each.value.min_backoff
    max_backoff        = each.value.max_backoff
    max_doublings      = each.value.max_doublings
    max_retry_duration = each.value.max_retry_duration
  }

  stackdriver_logging_config {
    sampling_ratio = var.tasks_log_sampling_ratio
  }

  depends_on = [google_project_service.enabled]
}

resource "google_cloud_tasks_queue_iam_member" "enqueuer" {
  for_each = local.queue_enqueuers

  project  = var.project_id
  location = var.region
  name     = google_cloud_tasks_queue.queue[each.value.queue].name
  role     = "roles/cloudtasks.enqueuer"
  member   = "serviceAccount:${google_service_account.function[each.value.function].email}"
}
