variable "project_id" {
  type        = string
  description = "The GCP project Piloto is deployed to."
}

variable "region" {
  type        = string
  description = "The region of the Cloud Run functions, Pub/Sub push endpoints and Cloud Tasks queues."
  default     = "southamerica-east1"
}
