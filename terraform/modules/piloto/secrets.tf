# Secret Manager. Terraform creates secrets, never their values (no secret ever sits in the
# Terraform state): a person adds versions with `gcloud secrets versions add` (README: Deploy).
#
# Channel secrets (provider tokens) are created at run time by the admin API, one secret per
# channel and role, named piloto-channel-<channel_id>-<role>. IAM conditions on that name keep
# every function away from any other secret in the project. A tenant's Meta Conversions API
# token is created the same way, named piloto-conversions-<tenant_id>-access_token (only the
# admin API writes and reads it: it sends a Purchase when an insight marks a conversation won).

locals {
  # resource.name of a secret, and of its versions, in an IAM condition uses the project number.
  channel_secret_prefix = "projects/${data.google_project.main.number}/secrets/piloto-channel-"

  channel_secret_condition = {
    title       = "piloto channel secrets"
    description = "Only secrets named piloto-channel-<channel_id>-<role>."
    expression  = "resource.name.startsWith(\"${local.channel_secret_prefix}\")"
  }

  # Functions that read channel secrets: the webhook verifies signatures, the sender calls the
  # providers' send APIs.
  channel_secret_readers = toset(["webhook", "sender"])

  conversions_secret_prefix = "projects/${data.google_project.main.number}/secrets/piloto-conversions-"

  conversions_secret_condition = {
    title       = "piloto conversions secrets"
    description = "Only secrets named piloto-conversions-<tenant_id>-access_token."
    expression  = "resource.name.startsWith(\"${local.conversions_secret_prefix}\")"
  }

  # Stripe's secrets, which the code reads as sm:<secret_id> (run.tf: stripe_env, billing_env):
  # always declared, so the references never point at a secret that does not exist.
  billing_secrets = {
    "piloto-stripe-secret-key" = {
      description = "Stripe's secret API key (sk_live_... or a restricted key): Checkout, Customer Portal, subscriptions."
      readers     = ["admin", "billing"]
    }
    "piloto-stripe-webhook-secret" = {
      description = "The signing secret (whsec_...) of Stripe's webhook endpoint for the billing function."
      readers     = ["billing"]
    }
  }

  # Integration secrets of the deployment (issue 10), declared for the same reason.
  integration_secrets = {
    "piloto-google-oauth-client-secret" = {
      description = "The client secret of the Google OAuth client tenants connect their Google Calendar with."
      readers     = ["admin", "turn"]
    }
    "piloto-oauth-state-secret" = {
      description = "A random key that signs the OAuth state of Google Calendar connections."
      readers     = ["admin"]
    }
    "piloto-smtp-password" = {
      description = "The SMTP password e-mail notifications are sent with (PILOTO_MAIL_TRANSPORT=smtp)."
      readers     = ["delivery", "digest"]
    }
    "piloto-sendgrid-api-key" = {
      description = "The SendGrid API key e-mail notifications are sent with (PILOTO_MAIL_TRANSPORT=sendgrid)."
      readers     = ["delivery", "digest"]
    }
  }

  app_secrets = merge(local.billing_secrets, local.integration_secrets, var.app_secrets)

  # A tenant's integration secrets (shared/secret_store.py tenant_secret_name): its Google
  # Calendar refresh token, its RD Station CRM token, its webhook endpoints' signing secrets. The
  # admin API writes them (and reads the calendar and CRM ones for previews); turns read the
  # calendar token; deliveries read the webhook secrets and the CRM token.
  tenant_secret_prefix = "projects/${data.google_project.main.number}/secrets/piloto-tenant-"

  tenant_secret_condition = {
    title       = "piloto tenant integration secrets"
    description = "Only secrets named piloto-tenant-<tenant_id>-<purpose>."
    expression  = "resource.name.startsWith(\"${local.tenant_secret_prefix}\")"
  }

  tenant_secret_readers = toset(["admin", "turn", "delivery"])

  app_secret_grants = merge([
    for secret_id, secret in local.app_secrets : {
      for function in secret.readers : "${secret_id} ${function}" => {
        secret_id = secret_id
        function  = function
      }
    }
  ]...)
}

resource "google_project_iam_member" "channel_secret_reader" {
  for_each = local.channel_secret_readers

  project = var.project_id
  role    = "roles/secretmanager.secretAccessor"
  member  = "serviceAccount:${google_service_account.function[each.value].email}"

  condition {
    title       = local.channel_secret_condition.title
    description = local.channel_secret_condition.description
    expression  = local.channel_secret_condition.expression
  }
}

# The admin API stores a channel's secrets: it manages the secrets and versions of channels
# (add a version on rotation, disable or destroy old ones, delete them with the channel) and never
# reads a value back.
resource "google_project_iam_custom_role" "channel_secret_writer" {
  project     = var.project_id
  role_id     = "pilotoChannelSecretWriter"
  title       = "Piloto channel secret writer"
  description = "Manage the secrets and versions of Piloto channels, without reading their values."
  permissions = [
    "secretmanager.secrets.delete",
    "secretmanager.secrets.get",
    "secretmanager.secrets.update",
    "secretmanager.versions.add",
    "secretmanager.versions.destroy",
    "secretmanager.versions.disable",
    "secretmanager.versions.enable",
    "secretmanager.versions.get",
    "secretmanager.versions.list",
  ]

  depends_on = [google_project_service.enabled]
}

resource "google_project_iam_member" "admin_channel_secret_writer" {
  project = var.project_id
  role    = google_project_iam_custom_role.channel_secret_writer.id
  member  = "serviceAccount:${google_service_account.function["admin"].email}"

  condition {
    title       = local.channel_secret_condition.title
    description = local.channel_secret_condition.description
    expression  = local.channel_secret_condition.expression
  }
}

# The admin API saves a tenant's Conversions API token and reads it back to send a Purchase.
resource "google_project_iam_member" "admin_conversions_secret_writer" {
  project = var.project_id
  role    = google_project_iam_custom_role.channel_secret_writer.id
  member  = "serviceAccount:${google_service_account.function["admin"].email}"

  condition {
    title       = local.conversions_secret_condition.title
    description = local.conversions_secret_condition.description
    expression  = local.conversions_secret_condition.expression
  }
}

resource "google_project_iam_member" "admin_conversions_secret_reader" {
  project = var.project_id
  role    = "roles/secretmanager.secretAccessor"
  member  = "serviceAccount:${google_service_account.function["admin"].email}"

  condition {
    title       = local.conversions_secret_condition.title
    description = local.conversions_secret_condition.description
    expression  = local.conversions_secret_condition.expression
  }
}

resource "google_project_iam_member" "tenant_secret_reader" {
  for_each = local.tenant_secret_readers

  project = var.project_id
  role    = "roles/secretmanager.secretAccessor"
  member  = "serviceAccount:${google_service_account.function[each.value].email}"

  condition {
    title       = local.tenant_secret_condition.title
    description = local.tenant_secret_condition.description
    expression  = local.tenant_secret_condition.expression
  }
}

# The admin API saves a tenant's integration secrets as it saves channel secrets.
resource "google_project_iam_member" "admin_tenant_secret_writer" {
  project = var.project_id
  role    = google_project_iam_custom_role.channel_secret_writer.id
  member  = "serviceAccount:${google_service_account.function["admin"].email}"

  condition {
    title       = local.tenant_secret_condition.title
    description = local.tenant_secret_condition.description
    expression  = local.tenant_secret_condition.expression
  }
}

# Creating a secret is checked on the project, not on the secret (it does not exist yet), so a
# name condition cannot narrow it. This role holds that one permission: the admin API can create
# empty secrets, and can read or change nothing it did not create under the channel prefix.
resource "google_project_iam_custom_role" "secret_creator" {
  project     = var.project_id
  role_id     = "pilotoSecretCreator"
  title       = "Piloto secret creator"
  description = "Create (empty) secrets; versions and access are granted separately."
  permissions = ["secretmanager.secrets.create"]

  depends_on = [google_project_service.enabled]
}

resource "google_project_iam_member" "admin_secret_creator" {
  project = var.project_id
  role    = google_project_iam_custom_role.secret_creator.id
  member  = "serviceAccount:${google_service_account.function["admin"].email}"
}

# Application secrets that are not per channel: Stripe's keys (local.billing_secrets) and any
# declared per environment in var.app_secrets, read by the functions listed there, referenced in
# code as sm:<secret_id>.
resource "google_secret_manager_secret" "app" {
  for_each = local.app_secrets

  project   = var.project_id
  secret_id = each.key
  labels    = local.labels

  annotations = {
    description = each.value.description
  }

  replication {
    user_managed {
      replicas {
        location = var.region
      }
    }
  }

  depends_on = [google_project_service.enabled]
}

resource "google_secret_manager_secret_iam_member" "app_reader" {
  for_each = local.app_secret_grants

  project   = var.project_id
  secret_id = google_secret_manager_secret.app[each.value.secret_id].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.function[each.value.function].email}"
}
