# Provider versions of the Piloto module. google-beta is needed for Firebase (project, web app,
# Hosting site) and for the Pub/Sub service identity; everything else uses google.
terraform {
  required_version = ">= 1.6"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.50"
    }
    google-beta = {
      source  = "hashicorp/google-beta"
      version = "~> 6.50"
    }
  }
}
