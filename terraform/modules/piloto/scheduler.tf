# Cloud Scheduler: the owners' daily digest. The job calls the digest function every hour; the
# function sends the digest of each tenant whose local hour is PILOTO_DIGEST_HOUR, once per day
# (a digests/<date> record), so a missed or repeated run never sends twice.

resource "google_service_account" "scheduler" {
  project      = var.project_id
  account_id   = "piloto-scheduler"
  display_name = "Cloud Scheduler to digest"
  description  = "Signs the OIDC token of the hourly digest job."

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
