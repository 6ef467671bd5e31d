# Cloud Scheduler: two jobs, each calling its function with the scheduler account's OIDC token.
#   digest: the owners' daily digest. The job calls the digest function every hour; the function
#           sends the digest of each tenant whose local hour is PILOTO_DIGEST_HOUR, once per day
#           (a digests/<date> record), so a missed or repeated run never sends twice.
#   outbox: every 5 minutes, the outbox sweep re-publishes the business events whose publish
#           after the commit failed (published_at still unset a few minutes on, less than a day
#           old); the integrations fan-out dedupes by event id, so a repeated run is harmless.

resource "google_service_account" "scheduler" {
  project      = var.project_id
  account_id   = "piloto-scheduler"
  display_name = "Cloud Scheduler to digest and outbox"
  description  = "Signs the OIDC token of the hourly digest job and the 5-minute outbox job."

  depends_on = [google_project_service.enabled]
}

resource "google_cloud_run_v2_service_iam_member" "scheduler" {
  for_each = { for name, function in local.functions : name => function if function.invoker == "scheduler" }

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.function[each.key].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.scheduler.email}"
}

resource "google_cloud_scheduler_job" "digest" {
  project     = var.project_id
  region      = var.region
  name        = "piloto-digest"
  description = "Hourly: the daily digest of tenants whose local hour is PILOTO_DIGEST_HOUR."
  schedule    = "0 * * * *"
  time_zone   = "Etc/UTC"

  attempt_deadline = "600s"

  retry_config {
    retry_count          = 3
    min_backoff_duration = "30s"
    max_backoff_duration = "300s"
  }

  http_target {
    http_method = "POST"
    uri         = google_cloud_run_v2_service.function["digest"].uri
    headers     = { "Content-Type" = "application/json" }
    body        = base64encode("{}")

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = google_cloud_run_v2_service.function["digest"].uri
    }
  }

  depends_on = [google_project_service.enabled]
}

resource "google_cloud_scheduler_job" "outbox" {
  project     = var.project_id
  region      = var.region
  name        = "piloto-outbox"
  description = "Every 5 minutes: re-publish the business events whose publish after the commit failed."
  schedule    = "*/5 * * * *"
  time_zone   = "Etc/UTC"

  attempt_deadline = "300s"

  retry_config {
    retry_count          = 3
    min_backoff_duration = "30s"
    max_backoff_duration = "300s"
  }

  http_target {
    http_method = "POST"
    uri         = google_cloud_run_v2_service.function["outbox"].uri
    headers     = { "Content-Type" = "application/json" }
    body        = base64encode("{}")

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = google_cloud_run_v2_service.function["outbox"].uri
    }
  }

  depends_on = [google_project_service.enabled]
}
