variable "project_id" {
  type        = string
  description = "The GCP project of the dev environment."
}

variable "region" {
  type        = string
  description = "The region of the dev environment's functions, queues and repository."
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
