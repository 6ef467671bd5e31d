# Service accounts and the roles they hold. Each function runs as its own account with only what
# its code does; resource-level grants (topics, queues, services, secrets) live beside the
# resource they are on: pubsub.tf, tasks.tf, run.tf, secrets.tf, artifact_registry.tf.

resource "google_service_account" "function" {
  for_each = local.functions

  project      = var.project_id
  account_id   = "piloto-${each.key}"
  display_name = "Piloto ${each.key} function"
  description  = "Runs the ${each.key} Cloud Run service."

  depends_on = [google_project_service.enabled]
}

# One push identity per subscription: only it may invoke the subscription's function.
resource "google_service_account" "push" {
  for_each = local.push_subscriptions

  project      = var.project_id
  account_id   = "piloto-push-${each.value.function}"
  display_name = "Pub/Sub push to ${each.value.function}"
  description  = "Signs the OIDC token of subscription ${each.key}."

  depends_on = [google_project_service.enabled]
}

# The identity whose OIDC token every turn and follow-up task carries (PILOTO_TASKS_SERVICE_ACCOUNT).
resource "google_service_account" "tasks" {
  project      = var.project_id
  account_id   = "piloto-tasks"
  display_name = "Cloud Tasks to turn and followup"
  description  = "Signs the OIDC token of turn and follow-up tasks."

  depends_on = [google_project_service.enabled]
}

# Cloud Build runs as this account: push the image, update the services, deploy the console.
resource "google_service_account" "deployer" {
  project      = var.project_id
  account_id   = "piloto-deployer"
  display_name = "Piloto deployer (Cloud Build)"
  description  = "Builds and deploys Piloto from cloudbuild.yaml."

  depends_on = [google_project_service.enabled]
}

locals {
  # Project-level roles, by function: Firestore for all (the webhook only reads channels), Vertex
  # AI where a model is called, Firebase Auth read access where ID tokens are checked for
  # revocation.
  function_project_roles = {
    webhook  = ["roles/datastore.viewer"]
    agent    = ["roles/datastore.user", "roles/aiplatform.user"]
    turn     = ["roles/datastore.user", "roles/aiplatform.user"]
    sender   = ["roles/datastore.user"]
    followup = ["roles/datastore.user", "roles/aiplatform.user"]
    admin    = ["roles/datastore.user", "roles/firebaseauth.viewer", "roles/aiplatform.user"]
    # Reads and updates billing accounts, records Stripe events and notices in transactions.
    billing = ["roles/datastore.user"]
    # Reads agents and conversations, writes insights and throttle counters; calls Gemini.
    insights = ["roles/datastore.user", "roles/aiplatform.user"]
    # Business events, deliveries, reminders, digests and the outbox sweep read and write
    # Firestore only (the sweep also publishes: pubsub.tf).
    integrations = ["roles/datastore.user"]
    delivery     = ["roles/datastore.user"]
    reminder     = ["roles/datastore.user"]
    digest       = ["roles/datastore.user"]
    outbox       = ["roles/datastore.user"]
  }

  function_project_grants = merge([
    for name, roles in local.function_project_roles : {
      for role in roles : "${name} ${role}" => { function = name, role = role }
    }
  ]...)

  deployer_project_roles = toset([
    "roles/firebasehosting.admin",             # firebase deploy --only hosting
    "roles/firebaserules.admin",               # firebase deploy --only firestore:rules
    "roles/logging.logWriter",                 # build logs (CLOUD_LOGGING_ONLY)
    "roles/serviceusage.serviceUsageConsumer", # firebase-tools checks the APIs it calls
  ])
}

resource "google_project_iam_member" "function" {
  for_each = local.function_project_grants

  project = var.project_id
  role    = each.value.role
  member  = "serviceAccount:${google_service_account.function[each.value.function].email}"
}

resource "google_project_iam_member" "deployer" {
  for_each = local.deployer_project_roles

  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.deployer.email}"
}

# Functions that schedule tasks name the tasks account in them: they must be able to act as it.
resource "google_service_account_iam_member" "tasks_user" {
  for_each = toset(["agent", "turn", "followup", "integrations", "delivery", "admin", "digest", "billing"])

  service_account_id = google_service_account.tasks.name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.function[each.value].email}"
}

# Deploying a revision that runs as a function's account needs actAs on that account.
resource "google_service_account_iam_member" "deployer_acts_as_function" {
  for_each = local.functions

  service_account_id = google_service_account.function[each.key].name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.deployer.email}"
}

# The deployer may change the services (a new image), not create, delete or expose them.
resource "google_cloud_run_v2_service_iam_member" "deployer" {
  for_each = local.functions

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.function[each.key].name
  role     = "roles/run.developer"
  member   = "serviceAccount:${google_service_account.deployer.email}"
}
