module "piloto" {
  source     = "../../modules/piloto"
  project_id = var.project_id
}

variable "project_id" {
  type        = string
  description = "The GCP project of the dev environment."
}
