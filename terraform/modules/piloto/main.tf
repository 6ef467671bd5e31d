# What every file of the module shares: the project, its number, labels and the Cloud Run URLs.

data "google_project" "main" {
  project_id = var.project_id
}

locals {
  labels = merge(var.labels, {
    app         = "piloto"
    environment = var.environment
  })

  # Cloud Run's deterministic URLs (https://SERVICE-PROJECT_NUMBER.REGION.run.app). Settings
  # that point one function at another (PILOTO_TURN_URL, PILOTO_FOLLOWUP_URL) are built from
  # them, so a service never has to read its own (or a later) resource's attributes.
  service_urls = {
    for name in keys(local.functions) :
    name => "https://piloto-${name}-${data.google_project.main.number}.${var.region}.run.app"
  }

  # What providers post to and sign (Twilio): the webhook's own URL unless a custom domain is set.
  webhook_public_url = coalesce(var.webhook_public_base_url, local.service_urls["webhook"])

  # Where the console is served: its first custom domain, else the Hosting site's own URL.
  # Stripe Checkout and the Customer Portal send the owner back here (PILOTO_CONSOLE_URL).
  console_url = length(var.console_domains) > 0 ? "https://${var.console_domains[0]}" : google_firebase_hosting_site.main.default_url

  # Pub/Sub's regional endpoint, so ordering keys are honoured (see README: configuration).
  pubsub_endpoint = "https://${var.region}-pubsub.googleapis.com"
}
