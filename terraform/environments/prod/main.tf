# The prod environment: deletion protection, point-in-time recovery for Firestore, the module's
# default maximums (run.tf), still scaling to zero (set min_instances = { webhook = 1 } to avoid
# the webhook's cold starts at the price of one idle instance).
module "piloto" {
  source = "../../modules/piloto"

  project_id                       = var.project_id
  region                           = var.region
  environment                      = "prod"
  deletion_protection              = true
  firestore_point_in_time_recovery = true
  log_level                        = "INFO"
  webhook_public_base_url          = var.webhook_public_base_url
  console_domains                  = var.console_domains
  app_secrets                      = var.app_secrets
  google_oauth_client_id           = var.google_oauth_client_id
  mail_transport                   = var.mail_transport
  mail_from                        = var.mail_from
  smtp_host                        = var.smtp_host
  smtp_port                        = var.smtp_port
  smtp_username                    = var.smtp_username
}
