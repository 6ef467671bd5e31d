variable "project_id" {
  type        = string
  description = "The GCP project Piloto is deployed to."
}

variable "region" {
  type        = string
  description = "The region of the Cloud Run functions, Pub/Sub message storage, Cloud Tasks queues, Artifact Registry and Secret Manager replicas."
  default     = "southamerica-east1"
}

variable "environment" {
  type        = string
  description = "The environment name, passed to the functions as PILOTO_ENVIRONMENT and set as a label."

  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "environment must be dev or prod."
  }
}

variable "labels" {
  type        = map(string)
  description = "Extra labels for every resource that takes labels (app and environment are always set)."
  default     = {}
}

variable "deletion_protection" {
  type        = bool
  description = "Protect the Firestore database and the Cloud Run services from deletion, and keep the build bucket when destroyed. Turn off only for throwaway environments."
  default     = true
}

variable "firestore_location" {
  type        = string
  description = "The Firestore database location (a region or multi-region; it cannot be changed later)."
  default     = "southamerica-east1"
}

variable "firestore_point_in_time_recovery" {
  type        = bool
  description = "Keep 7 days of Firestore versions for point-in-time recovery (billed as storage)."
  default     = false
}

variable "log_level" {
  type        = string
  description = "PILOTO_LOG_LEVEL of every function."
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "text_to_speech" {
  type        = string
  description = "PILOTO_TTS for the sender: google (Cloud Text-to-Speech) lets tenants turn on voice replies; off keeps every reply text."
  default     = "google"

  validation {
    condition     = contains(["google", "off"], var.text_to_speech)
    error_message = "text_to_speech must be google or off."
  }
}

variable "llm" {
  type        = string
  description = "PILOTO_LLM: vertex for Gemini on Vertex AI, offline for the deterministic offline model."
  default     = "vertex"

  validation {
    condition     = contains(["vertex", "offline"], var.llm)
    error_message = "llm must be vertex or offline."
  }
}

variable "gemini_model" {
  type        = string
  description = "PILOTO_GEMINI_MODEL: the Gemini model on Vertex AI."
  default     = "gemini-2.5-flash"
}

variable "gemini_precise_model" {
  type        = string
  description = "PILOTO_GEMINI_PRECISE_MODEL: the Gemini model of insight agents set to the precise model."
  default     = "gemini-2.5-pro"
}

variable "vertex_location" {
  type        = string
  description = "PILOTO_VERTEX_LOCATION: where Vertex AI serves the model (independent of var.region: pick one that offers the model)."
  default     = "us-central1"
}

variable "webhook_public_base_url" {
  type        = string
  description = "The public origin providers post to when it is not the webhook service's own URL (a custom domain), e.g. https://hooks.example.com. Twilio signs this URL."
  default     = null
}

variable "extra_settings" {
  type        = map(string)
  description = "More PILOTO_* settings for every function (e.g. PILOTO_CLOCK_SPEED, PILOTO_MAX_EVENT_AGE_SECONDS); see the README's configuration table."
  default     = {}

  validation {
    condition     = alltrue([for name in keys(var.extra_settings) : startswith(name, "PILOTO_")])
    error_message = "extra_settings keys must be PILOTO_* variables."
  }
}

variable "min_instances" {
  type        = map(number)
  description = "Minimum instances per function name (e.g. { webhook = 1 } to avoid cold starts); 0 for functions not listed."
  default     = {}
}

variable "max_instances" {
  type        = map(number)
  description = "Maximum instances per function name, overriding the module's per-function defaults (run.tf)."
  default     = {}
}

variable "bootstrap_image" {
  type        = string
  description = "The image the services start with before CI's first deploy; CI owns the image afterwards."
  default     = "us-docker.pkg.dev/cloudrun/container/hello"
}

variable "turns_queue_name" {
  type        = string
  description = "The Cloud Tasks queue of debounced turns (PILOTO_TASKS_QUEUE)."
  default     = "piloto-turns"
}

variable "followups_queue_name" {
  type        = string
  description = "The Cloud Tasks queue of follow-ups and seller-inactivity checks (PILOTO_FOLLOWUP_QUEUE)."
  default     = "piloto-followups"
}

variable "tasks_log_sampling_ratio" {
  type        = number
  description = "Share of Cloud Tasks dispatch attempts written to Cloud Logging (0 to 1)."
  default     = 0.1

  validation {
    condition     = var.tasks_log_sampling_ratio >= 0 && var.tasks_log_sampling_ratio <= 1
    error_message = "tasks_log_sampling_ratio must be between 0 and 1."
  }
}

variable "images_to_keep" {
  type        = number
  description = "How many most recent images Artifact Registry keeps regardless of age (older ones are deleted after 30 days)."
  default     = 10
}

variable "app_secrets" {
  type = map(object({
    description = string
    readers     = list(string)
  }))
  description = "Application secrets by secret id (values added outside Terraform), each with the functions (names in functions/) whose service accounts may read it."
  default     = {}
}

variable "hosting_site_id" {
  type        = string
  description = "The Firebase Hosting site of the console (default: the project id, Firebase's default site)."
  default     = null
}

variable "console_domains" {
  type        = list(string)
  description = "Custom domains the console is served from, authorised for Firebase Auth sign-in."
  default     = []
}

variable "stripe_api_base" {
  type        = string
  description = "Stripe's API origin (PILOTO_STRIPE_API_BASE) for the admin API and the billing function."
  default     = "https://api.stripe.com"

  validation {
    condition     = startswith(var.stripe_api_base, "https://")
    error_message = "stripe_api_base must be an https:// origin."
  }
}

variable "deliveries_queue_name" {
  description = "Cloud Tasks queue of webhook, CRM and e-mail deliveries."
  type        = string
  default     = "piloto-deliveries"
}

variable "google_oauth_client_id" {
  description = "Client ID of the Google OAuth client (Web application) tenants connect Google Calendar with; empty: only the built-in calendar. Its secret goes in the piloto-google-oauth-client-secret secret."
  type        = string
  default     = ""
}

variable "mail_transport" {
  description = "How e-mail notifications leave: smtp, sendgrid, or off (console notifications only)."
  type        = string
  default     = "off"

  validation {
    condition     = contains(["off", "smtp", "sendgrid"], var.mail_transport)
    error_message = "mail_transport must be off, smtp or sendgrid."
  }
}

variable "mail_from" {
  description = "The From of notification e-mails, e.g. \"Piloto <no-reply@example.com>\"."
  type        = string
  default     = "Piloto <no-reply@piloto.app>"
}

variable "smtp_host" {
  description = "SMTP server for e-mail notifications (mail_transport = smtp)."
  type        = string
  default     = ""
}

variable "smtp_port" {
  description = "SMTP port (587 with STARTTLS by default)."
  type        = number
  default     = 587
}

variable "smtp_username" {
  description = "SMTP user name; the password goes in the piloto-smtp-password secret."
  type        = string
  default     = ""
}
