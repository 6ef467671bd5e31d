# The Google APIs Piloto uses. Disabling them on destroy is left to a person: other things in
# the project may use them too.

locals {
  apis = toset([
    "aiplatform.googleapis.com",           # Gemini on Vertex AI (turn, followup, admin, insights)
    "artifactregistry.googleapis.com",     # the one image
    "cloudbuild.googleapis.com",           # CI: build, push, deploy
    "cloudresourcemanager.googleapis.com", # the project data source, IAM bindings
    "cloudscheduler.googleapis.com",       # the daily digest (hourly), the outbox sweep (5 min)
    "cloudtasks.googleapis.com",           # debounced turns, follow-ups
    "firebase.googleapis.com",             # Firebase project and web app
    "firebasehosting.googleapis.com",      # the console
    "firebaserules.googleapis.com",        # Firestore security rules (deployed by CI)
    "firestore.googleapis.com",            # every record
    "iam.googleapis.com",                  # service accounts
    "iamcredentials.googleapis.com",       # OIDC tokens for push and tasks
    "identitytoolkit.googleapis.com",      # Firebase Auth (console sign-in)
    "logging.googleapis.com",              # structured logs
    "pubsub.googleapis.com",               # conversation, outbound, insight and business events
    "run.googleapis.com",                  # the functions
    "secretmanager.googleapis.com",        # channel and app secrets
    "serviceusage.googleapis.com",         # enabling these
    "storage.googleapis.com",              # build sources
    "texttospeech.googleapis.com",         # voice replies (sender, when PILOTO_TTS=google)
  ])
}

resource "google_project_service" "enabled" {
  for_each = local.apis

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}
