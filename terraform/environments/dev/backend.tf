# State lives in a GCS bucket you create once (README: Deploy). The bucket is given at init time:
#   terraform init -backend-config="bucket=<state bucket>"
# (make deploy ENV=dev TF_STATE_BUCKET=<state bucket> does this).
terraform {
  backend "gcs" {
    prefix = "piloto/dev"
  }
}
