provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project   = "ecs-scaler"
      ManagedBy = "terraform"
    }
  }
}
