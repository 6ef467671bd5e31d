# Outputs carry no `type` argument in Terraform: each value is typed by its conversion function
# (tostring, tomap), which fails the plan if the value ever has another type.

output "project_number" {
  description = "The project's number (in IAM conditions and Cloud Run's deterministic URLs)."
  value       = tostring(data.google_project.main.number)
}

output "region" {
  description = "The region the functions, queues and repository are in."
  value       = tostring(var.region)
}

output "service_names" {
  description = "Cloud Run service name by function."
  value       = tomap({ for name, service in google_cloud_run_v2_service.function : name => service.name })
}

output "service_urls" {
  description = "Cloud Run service URL by function."
  value       = tomap({ for name, service in google_cloud_run_v2_service.function : name => service.uri })
}

output "webhook_url" {
  description = "The public origin WhatsApp providers post to."
  value       = tostring(local.webhook_public_url)
}

output "webhook_callback_url_template" {
  description = "The callback URL to register with each provider, with the provider and channel id filled in."
  value       = tostring("${local.webhook_public_url}/webhooks/{provider}/{channel_id}")
}

output "billing_webhook_url" {
  description = "The endpoint to register in Stripe (Developers > Webhooks) for the billing function's events."
  value       = tostring(local.service_urls["billing"])
}

output "console_url" {
  description = "Where the console is served (Firebase Hosting)."
  value       = tostring(google_firebase_hosting_site.main.default_url)
}

output "hosting_site_id" {
  description = "The Firebase Hosting site CI deploys the console to."
  value       = tostring(google_firebase_hosting_site.main.site_id)
}

output "firebase_web_app_id" {
  description = "The console's Firebase web app id."
  value       = tostring(google_firebase_web_app.console.app_id)
}

output "image_repository" {
  description = "The Artifact Registry path images are pushed to (<path>/piloto:<tag>)."
  value       = tostring("${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.main.repository_id}")
}

output "builds_bucket" {
  description = "The bucket gcloud builds submit stages sources in."
  value       = tostring(google_storage_bucket.builds.name)
}

output "deployer_service_account" {
  description = "The service account Cloud Build runs as (gcloud builds submit --service-account)."
  value       = tostring(google_service_account.deployer.email)
}

output "function_service_accounts" {
  description = "Service account email by function."
  value       = tomap({ for name, account in google_service_account.function : name => account.email })
}

output "tasks_service_account" {
  description = "The service account whose OIDC token turn and follow-up tasks carry."
  value       = tostring(google_service_account.tasks.email)
}

output "topics" {
  description = "Pub/Sub topic id by name."
  value       = tomap({ for name, topic in google_pubsub_topic.app : name => topic.id })
}

output "dead_letter_subscriptions" {
  description = "The pull subscription holding each push subscription's dead letters."
  value       = tomap({ for name, subscription in google_pubsub_subscription.dead_letter : name => subscription.id })
}

output "task_queues" {
  description = "Cloud Tasks queue path by purpose (turns, followups)."
  value       = tomap(local.queue_paths)
}
