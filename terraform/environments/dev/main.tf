# The dev environment: cheap and disposable. Scales to zero, small maximums, no deletion
# protection, verbose logs, every task attempt logged.
module "piloto" {
  source = "../../modules/piloto"

  project_id               = var.project_id
  region                   = var.region
  environment              = "dev"
  deletion_protection      = false
  log_level                = "DEBUG"
  tasks_log_sampling_ratio = 1
  images_to_keep           = 5
  webhook_public_base_url  = var.webhook_public_base_url
  console_domains          = var.console_domains
  app_secrets              = var.app_secrets
  google_oauth_client_id   = var.google_oauth_client_id
  mail_transport           = var.mail_transport
  mail_from                = var.mail_from
  smtp_host                = var.smtp_host
  smtp_port                = var.smtp_port
  smtp_username            = var.smtp_username

  max_instances = {
    webhook      = 3
    agent        = 2
    turn         = 3
    sender       = 2
    followup     = 2
    admin        = 2
    insights     = 2
    billing      = 2
    integrations = 2
    delivery     = 2
    reminder     = 2
    digest       = 1
    outbox       = 1
  }
}
