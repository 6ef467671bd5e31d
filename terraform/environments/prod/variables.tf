variable "project_id" {
  type        = string
  description = "The GCP project of the prod environment."
}

variable "region" {
  type        = string
  description = "The region of the prod environment's functions, queues and repository."
  default     = "southamerica-east1"
}

variable "webhook_public_base_url" {
  type        = string
  description = "A custom domain in front of the webhook (https://...), if any; else the webhook service's own URL."
  default     = null
}

variable "console_domains" {
  type        = list(string)
  description = "Custom domains the console is served from, if any."
  default     = []
}

variable "app_secrets" {
  type = map(object({
    description = string
    readers     = list(string)
  }))
  description = "Application secrets besides Stripe's two (which the module always declares), with the functions that read them; values added with gcloud, never in Terraform."
  default     = {}
}

variable "google_oauth_client_id" {
  description = "Client ID of the Google OAuth client tenants connect Google Calendar with (empty: built-in calendar only)."
  type        = string
  default     = ""
}

variable "mail_transport" {
  description = "How e-mail notifications leave: smtp, sendgrid or off."
  type        = string
  default     = "off"
}

variable "mail_from" {
  description = "The From of notification e-mails."
  type        = string
  default     = "Piloto <no-reply@piloto.app>"
}

variable "smtp_host" {
  description = "SMTP server (mail_transport = smtp)."
  type        = string
  default     = ""
}

variable "smtp_port" {
  description = "SMTP port."
  type        = number
  default     = 587
}

variable "smtp_username" {
  description = "SMTP user name (the password goes in the piloto-smtp-password secret)."
  type        = string
  default     = ""
}
