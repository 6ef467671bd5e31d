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

locals {
  # One job per scheduled function (invoker "scheduler" in run.tf), named piloto-<function>; the
  # job waits for its function as long as the function may run.
  scheduler_jobs = {
    digest = {
      description = "Hourly: the daily digest of tenants whose local hour is PILOTO_DIGEST_HOUR."
      schedule    = "0 * * * *"
    }
    outbox = {
      description = "Every 5 minutes: re-publish the business events whose publish after the commit failed."
      schedule    = "*/5 * * * *"
    }
  }
}

resource "google_cloud_scheduler_job" "job" {
  for_each = local.scheduler_jobs

  project     = var.project_id
  region      = var.region
  name        = "piloto-${each.key}"
  description = each.value.description
  schedule    = each.value.schedule
  time_zone   = "Etc/UTC"

  attempt_deadline = local.functions[each.key].timeout

  retry_config {
    retry_count          = 3
    min_backoff_duration = "30s"
    max_backoff_duration = "300s"
  }

  http_target {
    http_method = "POST"
    uri         = google_cloud_run_v2_service.function[each.key].uri
    headers     = { "Content-Type" = "application/json" }
    body        = base64encode("{}")

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = google_cloud_run_v2_service.function[each.key].uri
    }
  }

  depends_on = [google_project_service.enabled]
}

# The digest job was a resource of its own before the outbox job joined it.
moved {
  from = google_cloud_scheduler_job.digest
  to   = google_cloud_scheduler_job.job["digest"]
}
