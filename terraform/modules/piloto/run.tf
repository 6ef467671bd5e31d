# One Cloud Run service per function in functions/, all from one image: FUNCTION_TARGET picks the
# function and FUNCTION_SIGNATURE_TYPE how functions-framework serves it (see the Dockerfile).
# CI owns the image (`gcloud run services update --image`); Terraform owns everything else.

locals {
  # invoker: who may call the service.
  #   public: allUsers; the function authenticates every request itself (provider signatures,
  #           Firebase ID tokens, Stripe signatures).
  #   pubsub: only the push service account of its Pub/Sub subscription (pubsub.tf).
  #   tasks:  only the Cloud Tasks service account (tasks.tf).
  # Sizing: 1 vCPU is the least Cloud Run allows with more than one request at a time; THREADS
  # (functions-framework's gunicorn threads) follows the concurrency so requests never queue in
  # the container. Memory is what the function's imports need plus headroom.
  functions = {
    # The light path: verify, parse, publish, 200 in milliseconds. No LangGraph or gRPC imports;
    # one instance idles at ~70 MB, so the first generation's 256 MiB and a high concurrency.
    webhook = {
      signature_type        = "http"
      invoker               = "public"
      cpu                   = "1"
      memory                = "256Mi"
      concurrency           = 80
      max_instances         = 20
      timeout               = "30s"
      execution_environment = "EXECUTION_ENVIRONMENT_GEN1"
    }
    # Intake of every conversation event: a Firestore transaction and a Cloud Tasks call each.
    agent = {
      signature_type        = "cloudevent"
      invoker               = "pubsub"
      cpu                   = "1"
      memory                = "512Mi"
      concurrency           = 40
      max_instances         = 10
      timeout               = "300s" # a lead's media is fetched and understood before the turn
      execution_environment = "EXECUTION_ENVIRONMENT_GEN2"
    }
    # One LangGraph turn and at most one model call per request: mostly waiting on Gemini.
    turn = {
      signature_type        = "http"
      invoker               = "tasks"
      cpu                   = "1"
      memory                = "1Gi"
      concurrency           = 10
      max_instances         = 20
      timeout               = "120s"
      execution_environment = "EXECUTION_ENVIRONMENT_GEN2"
    }
    # Sends one message: waits up to PILOTO_SEND_MAX_WAIT_SECONDS for the channel's rate, then
    # calls the provider with retries.
    sender = {
      signature_type        = "http"
      invoker               = "pubsub"
      cpu                   = "1"
      memory                = "512Mi"
      concurrency           = 40
      max_instances         = 10
      timeout               = "120s"
      execution_environment = "EXECUTION_ENVIRONMENT_GEN2"
    }
    # One follow-up step: like a turn, with the follow-up specialist.
    followup = {
      signature_type        = "http"
      invoker               = "tasks"
      cpu                   = "1"
      memory                = "1Gi"
      concurrency           = 10
      max_instances         = 10
      timeout               = "120s"
      execution_environment = "EXECUTION_ENVIRONMENT_GEN2"
    }
    # Insight agents on one insight event: a transaction, then at most two model calls (one
    # retry on an invalid answer) per matching agent; mostly waiting on Gemini.
    insights = {
      signature_type        = "cloudevent"
      invoker               = "pubsub"
      cpu                   = "1"
      memory                = "1Gi"
      concurrency           = 10
      max_instances         = 10
      timeout               = "120s"
      execution_environment = "EXECUTION_ENVIRONMENT_GEN2"
    }
    # Stripe's webhook endpoint: verifies the Stripe-Signature, retrieves the subscription from
    # Stripe's API and applies it in one Firestore transaction. A few events per customer a month.
    billing = {
      signature_type        = "http"
      invoker               = "public"
      cpu                   = "1"
      memory                = "512Mi"
      concurrency           = 20
      max_instances         = 5
      timeout               = "60s"
      execution_environment = "EXECUTION_ENVIRONMENT_GEN2"
    }
    # Fans each business event out into deliveries (webhook endpoints, the CRM, e-mail): a few
    # reads and one create per target, one Cloud Task each. Milliseconds per event.
    integrations = {
      signature_type        = "cloudevent"
      invoker               = "pubsub"
      cpu                   = "1"
      memory                = "512Mi"
      concurrency           = 40
      max_instances         = 5
      timeout               = "60s"
      execution_environment = "EXECUTION_ENVIRONMENT_GEN2"
    }
    # One delivery attempt: a signed POST to a tenant's endpoint (PILOTO_WEBHOOK_TIMEOUT_SECONDS),
    # a few RD Station CRM calls or one e-mail; mostly waiting on the other side.
    delivery = {
      signature_type        = "http"
      invoker               = "tasks"
      cpu                   = "1"
      memory                = "512Mi"
      concurrency           = 40
      max_instances         = 10
      timeout               = "60s"
      execution_environment = "EXECUTION_ENVIRONMENT_GEN2"
    }
    # A meeting reminder: re-reads the booking and the conversation, stores one decision and
    # hands one message to the sender.
    reminder = {
      signature_type        = "http"
      invoker               = "tasks"
      cpu                   = "1"
      memory                = "512Mi"
      concurrency           = 20
      max_instances         = 5
      timeout               = "60s"
      execution_environment = "EXECUTION_ENVIRONMENT_GEN2"
    }
    # The owners' daily digest: Cloud Scheduler calls it every hour (scheduler.tf) and it sends
    # the digest of the tenants whose local hour is PILOTO_DIGEST_HOUR. One run at a time.
    digest = {
      signature_type        = "http"
      invoker               = "scheduler"
      cpu                   = "1"
      memory                = "512Mi"
      concurrency           = 1
      max_instances         = 1
      timeout               = "600s"
      execution_environment = "EXECUTION_ENVIRONMENT_GEN2"
    }
    # The outbox sweep (shared/integrations/outbox.py): re-publishes the business events whose
    # publish after the commit failed (a crash, an admin action that had already answered), so
    # the integrations fan-out sees every event at least once. Cloud Scheduler calls it every 5
    # minutes (scheduler.tf); one run at a time.
    outbox = {
      signature_type        = "http"
      invoker               = "scheduler"
      cpu                   = "1"
      memory                = "512Mi"
      concurrency           = 1
      max_instances         = 1
      timeout               = "300s"
      execution_environment = "EXECUTION_ENVIRONMENT_GEN2"
    }
    # The console's API (Firebase Hosting rewrites /api/** here); checks Firebase ID tokens.
    admin = {
      signature_type        = "http"
      invoker               = "public"
      cpu                   = "1"
      memory                = "512Mi"
      concurrency           = 40
      max_instances         = 5
      timeout               = "60s"
      execution_environment = "EXECUTION_ENVIRONMENT_GEN2"
    }
  }

  # Settings every function reads (shared/settings.py; README: configuration).
  common_env = {
    GOOGLE_CLOUD_PROJECT      = var.project_id
    PILOTO_ENVIRONMENT        = var.environment
    PILOTO_LOG_LEVEL          = var.log_level
    PILOTO_FIRESTORE_DATABASE = google_firestore_database.main.name
    PILOTO_PUBSUB_ENDPOINT    = local.pubsub_endpoint
    PILOTO_EVENTS_TOPIC       = google_pubsub_topic.app["conversation-events"].name
    PILOTO_OUTBOUND_TOPIC     = google_pubsub_topic.app["outbound-messages"].name
    PILOTO_INSIGHT_TOPIC      = google_pubsub_topic.app["insight-events"].name
    # Business events (shared/integrations): published by turns, follow-ups, the admin API and
    # the insight agents, fanned out by the integrations function.
    PILOTO_BUSINESS_EVENTS_TOPIC = google_pubsub_topic.app["business-events"].name
  }

  llm_env = {
    PILOTO_LLM             = var.llm
    PILOTO_GEMINI_MODEL    = var.gemini_model
    PILOTO_VERTEX_LOCATION = var.vertex_location
  }

  # Insight agents set to the precise model use this one (fast ones: PILOTO_GEMINI_MODEL).
  insights_env = {
    PILOTO_GEMINI_PRECISE_MODEL = var.gemini_precise_model
  }

  # Where the admin API keeps the provider tokens the console saves (PILOTO_SECRET_STORE).
  admin_store_backend = "secret-manager"

  # The admin API's own settings: the console's Firebase config, the webhook URL it shows, secrets,
  # and where Stripe Checkout and the Customer Portal send the owner back (the console).
  admin_env = {
    PILOTO_PUBLIC_BASE_URL      = local.webhook_public_url
    PILOTO_FIREBASE_WEB_API_KEY = data.google_firebase_web_app_config.console.api_key
    PILOTO_FIREBASE_AUTH_DOMAIN = data.google_firebase_web_app_config.console.auth_domain
    PILOTO_SECRET_STORE         = local.admin_store_backend
    PILOTO_CONSOLE_URL          = local.console_url
  }

  # Stripe's API (shared/billing/stripe_api.py): the admin API opens Checkout and Customer Portal
  # sessions and changes plans, the billing function retrieves subscriptions. The key is a secret
  # reference (secrets.tf: local.billing_secrets), never a value.
  stripe_env = {
    PILOTO_STRIPE_API_BASE   = var.stripe_api_base
    PILOTO_STRIPE_SECRET_KEY = "sm:${google_secret_manager_secret.app["piloto-stripe-secret-key"].secret_id}"
  }

  # The admin API signs the OAuth state of Google Calendar connections.
  admin_integrations_env = {
    PILOTO_OAUTH_STATE_SECRET = "sm:${google_secret_manager_secret.app["piloto-oauth-state-secret"].secret_id}"
  }

  # The billing function checks each event's Stripe-Signature with the endpoint's signing secret.
  billing_env = {
    PILOTO_STRIPE_WEBHOOK_SECRET = "sm:${google_secret_manager_secret.app["piloto-stripe-webhook-secret"].secret_id}"
  }

  # Turns and follow-ups schedule follow-up tasks; the tasks carry the Cloud Tasks account's token.
  followup_tasks_env = {
    PILOTO_FOLLOWUP_QUEUE        = local.queue_paths["followups"]
    PILOTO_FOLLOWUP_URL          = local.service_urls["followup"]
    PILOTO_TASKS_SERVICE_ACCOUNT = google_service_account.tasks.email
  }

  turn_tasks_env = {
    PILOTO_TASKS_QUEUE           = local.queue_paths["turns"]
    PILOTO_TURN_URL              = local.service_urls["turn"]
    PILOTO_TASKS_SERVICE_ACCOUNT = google_service_account.tasks.email
  }

  # Google Calendar (shared/scheduling/google.py): the OAuth client tenants connect with, and the
  # APIs. The client secret is a secret reference (secrets.tf: local.integration_secrets).
  google_calendar_env = {
    PILOTO_GOOGLE_OAUTH_CLIENT_ID     = var.google_oauth_client_id
    PILOTO_GOOGLE_OAUTH_CLIENT_SECRET = "sm:${google_secret_manager_secret.app["piloto-google-oauth-client-secret"].secret_id}"
  }

  # Meetings: turns schedule reminders on the follow-up queue (functions/reminder).
  reminder_tasks_env = {
    PILOTO_REMINDER_URL = local.service_urls["reminder"]
  }

  # Deliveries (shared/integrations/delivery.py): created by the integrations function, the admin
  # API (test events, redeliveries), the digest, and the delivery function itself (retries).
  delivery_tasks_env = {
    PILOTO_DELIVERY_QUEUE        = local.queue_paths["deliveries"]
    PILOTO_DELIVERY_URL          = local.service_urls["delivery"]
    PILOTO_TASKS_SERVICE_ACCOUNT = google_service_account.tasks.email
  }

  # E-mail notifications (shared/notifications/email.py): SMTP or SendGrid's API; the password or
  # key is a secret reference. "off" keeps notifications in the console only.
  mail_env = {
    PILOTO_MAIL_TRANSPORT = var.mail_transport
    PILOTO_MAIL_FROM      = var.mail_from
    PILOTO_SMTP_HOST      = var.smtp_host
    PILOTO_SMTP_PORT      = tostring(var.smtp_port)
    PILOTO_SMTP_USERNAME  = var.smtp_username
    PILOTO_SMTP_PASSWORD  = "sm:${google_secret_manager_secret.app["piloto-smtp-password"].secret_id}"
    PILOTO_MAIL_API_KEY   = "sm:${google_secret_manager_secret.app["piloto-sendgrid-api-key"].secret_id}"
    PILOTO_CONSOLE_URL    = local.console_url
  }

  function_env = {
    webhook = { PILOTO_PUBLIC_BASE_URL = local.webhook_public_url }
    # The agent transcribes and describes a lead's media with the same model as the turn.
    agent = merge(local.llm_env, local.turn_tasks_env)
    # Turns book meetings: Google Calendar, and reminders on the follow-up queue. Turns,
    # follow-ups and the billing function e-mail billing notices to the owners (deliveries).
    turn     = merge(local.llm_env, local.followup_tasks_env, local.google_calendar_env, local.reminder_tasks_env, local.delivery_tasks_env)
    followup = merge(local.llm_env, local.followup_tasks_env, local.delivery_tasks_env)
    # Voice replies (a tenant setting) need text-to-speech; "off" keeps every reply text.
    sender = { PILOTO_TTS = var.text_to_speech }
    # The admin API embeds knowledge as the turn embeds questions: the same model settings.
    # Google Calendar connections (OAuth), webhook test events and redeliveries.
    admin        = merge(local.llm_env, local.admin_env, local.stripe_env, local.google_calendar_env, local.admin_integrations_env, local.delivery_tasks_env)
    integrations = local.delivery_tasks_env
    delivery     = merge(local.delivery_tasks_env, local.mail_env)
    reminder     = {}
    digest       = merge(local.delivery_tasks_env, local.mail_env)
    # Publishes to the business-events topic only (PILOTO_BUSINESS_EVENTS_TOPIC, common_env).
    outbox = {}
    # Stripe webhooks (shared/billing/webhooks.py).
    billing = merge(local.stripe_env, local.billing_env, local.delivery_tasks_env)
    # The insight agents' models (shared/insights/runner.py).
    insights = merge(local.llm_env, local.insights_env)
  }
}

resource "google_cloud_run_v2_service" "function" {
  for_each = local.functions

  project             = var.project_id
  name                = "piloto-${each.key}"
  location            = var.region
  description         = "Piloto ${each.key} function (FUNCTION_TARGET=${each.key})."
  labels              = merge(local.labels, { function = each.key })
  deletion_protection = var.deletion_protection
  # Pub/Sub push and Cloud Tasks count as internal traffic from the same project.
  ingress = each.value.invoker == "public" ? "INGRESS_TRAFFIC_ALL" : "INGRESS_TRAFFIC_INTERNAL_ONLY"

  template {
    service_account                  = google_service_account.function[each.key].email
    max_instance_request_concurrency = each.value.concurrency
    timeout                          = each.value.timeout
    execution_environment            = each.value.execution_environment
    labels                           = merge(local.labels, { function = each.key })

    scaling {
      min_instance_count = lookup(var.min_instances, each.key, 0)
      max_instance_count = lookup(var.max_instances, each.key, each.value.max_instances)
    }

    containers {
      # Until CI's first deploy the service runs a placeholder; after that CI owns the image.
      image = var.bootstrap_image

      resources {
        limits = {
          cpu    = each.value.cpu
          memory = each.value.memory
        }
        cpu_idle          = true # CPU is billed only while a request is being served
        startup_cpu_boost = true
      }

      dynamic "env" {
        for_each = merge(
          local.common_env,
          local.function_env[each.key],
          var.extra_settings,
          {
            FUNCTION_TARGET         = each.key
            FUNCTION_SIGNATURE_TYPE = each.value.signature_type
            THREADS                 = tostring(each.value.concurrency)
          },
        )
        content {
          name  = env.key
          value = env.value
        }
      }
    }
  }

  lifecycle {
    # CI deploys new images with gcloud, which also stamps the client fields.
    ignore_changes = [
      template[0].containers[0].image,
      client,
      client_version,
    ]
  }

  depends_on = [google_project_service.enabled]
}

# Who may invoke each service (see local.functions): allUsers only for the public endpoints.
resource "google_cloud_run_v2_service_iam_member" "public" {
  for_each = { for name, function in local.functions : name => function if function.invoker == "public" }

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.function[each.key].name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

resource "google_cloud_run_v2_service_iam_member" "pubsub_push" {
  for_each = local.push_subscriptions

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.function[each.value.function].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.push[each.key].email}"
}

resource "google_cloud_run_v2_service_iam_member" "tasks" {
  for_each = { for name, function in local.functions : name => function if function.invoker == "tasks" }

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.function[each.key].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.tasks.email}"
}
