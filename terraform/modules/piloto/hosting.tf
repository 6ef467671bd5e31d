# Firebase: the project, the console's web app (its config is what the console signs in with,
# served by the admin API at /api/config), Firebase Auth's email/password sign-in, and the
# Hosting site the console is deployed to (firebase.json rewrites /api/** to piloto-admin).

resource "google_firebase_project" "main" {
  provider = google-beta

  project = var.project_id

  depends_on = [google_project_service.enabled]
}

resource "google_firebase_web_app" "console" {
  provider = google-beta

  project         = var.project_id
  display_name    = "Piloto console"
  deletion_policy = "DELETE"

  depends_on = [google_firebase_project.main]
}

data "google_firebase_web_app_config" "console" {
  provider = google-beta

  project    = var.project_id
  web_app_id = google_firebase_web_app.console.app_id
}

resource "google_firebase_hosting_site" "main" {
  provider = google-beta

  project = var.project_id
  site_id = coalesce(var.hosting_site_id, var.project_id)
  app_id  = google_firebase_web_app.console.app_id
}

# Sign-in for owners, admins and sellers: email and password. Google sign-in needs an OAuth
# client of your own; turn it on in the Firebase console (README: Deploy).
resource "google_identity_platform_config" "main" {
  project = var.project_id

  authorized_domains = concat(
    [
      "${google_firebase_hosting_site.main.site_id}.web.app",
      "${google_firebase_hosting_site.main.site_id}.firebaseapp.com",
    ],
    var.console_domains,
  )

  sign_in {
    allow_duplicate_emails = false

    email {
      enabled           = true
      password_required = true
    }
  }

  depends_on = [google_firebase_project.main]
}
