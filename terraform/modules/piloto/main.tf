# The Piloto module: filled in concern by concern (apis.tf, iam.tf, run.tf, pubsub.tf, tasks.tf,
# firestore.tf, ...) by the Terraform issue. For now it only declares its inputs.

terraform {
  required_version = ">= 1.6"
}
