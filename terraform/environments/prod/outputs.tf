output "project_id" {
  description = "The project this environment is deployed to."
  value       = tostring(var.project_id)
}

output "region" {
  description = "The region of the functions, queues and repository."
  value       = module.piloto.region
}

output "service_urls" {
  description = "Cloud Run service URL by function."
  value       = module.piloto.service_urls
}

output "webhook_callback_url_template" {
  description = "The callback URL to register with each WhatsApp provider."
  value       = module.piloto.webhook_callback_url_template
}

output "billing_webhook_url" {
  description = "The endpoint to register in Stripe for the billing function's events."
  value       = module.piloto.billing_webhook_url
}

output "console_url" {
  description = "Where the console is served."
  value       = module.piloto.console_url
}

output "hosting_site_id" {
  description = "The Firebase Hosting site CI deploys the console to."
  value       = module.piloto.hosting_site_id
}

output "image_repository" {
  description = "The Artifact Registry path CI pushes the image to."
  value       = module.piloto.image_repository
}

output "builds_bucket" {
  description = "The bucket gcloud builds submit stages sources in."
  value       = module.piloto.builds_bucket
}

output "deployer_service_account" {
  description = "The service account Cloud Build runs as."
  value       = module.piloto.deployer_service_account
}

output "dead_letter_subscriptions" {
  description = "Where messages that could not be delivered are kept."
  value       = module.piloto.dead_letter_subscriptions
}
