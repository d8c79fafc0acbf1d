variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "cluster_name" {
  description = "Name of the ECS cluster."
  type        = string
  default     = "default"
}

variable "environment" {
  description = "Environment tag."
  type        = string
  default     = "example"
}

variable "team" {
  description = "Team tag."
  type        = string
  default     = "devops"
}

variable "vpc_cidr" {
  description = "CIDR block of the example VPC; two /24 public subnets are carved from it."
  type        = string
  default     = "10.42.0.0/16"
}

variable "blue" {
  description = "The blue colour. image_id defaults to the latest ECS-optimized Amazon Linux 2023 AMI; desired_capacity to min_size."
  type = object({
    image_id         = optional(string)
    instance_type    = optional(string, "m6i.large")
    min_size         = optional(number, 2)
    max_size         = optional(number, 6)
    desired_capacity = optional(number)
  })
  default = {}
}

variable "green" {
  description = "The green colour, idle (all sizes 0) until the next AMI upgrade."
  type = object({
    image_id         = optional(string)
    instance_type    = optional(string, "m6i.large")
    min_size         = optional(number, 0)
    max_size         = optional(number, 0)
    desired_capacity = optional(number)
  })
  default = {}
}

variable "thresholds" {
  description = "Reservation thresholds in percent: scale up above max, scale down below min."
  type = object({
    cpu    = object({ min = number, max = number })
    memory = object({ min = number, max = number })
  })
  default = {
    cpu    = { min = 40, max = 75 }
    memory = { min = 40, max = 75 }
  }
}

variable "scale_status_zip" {
  description = "Path of the scale-status Lambda zip; null uses target/lambda/scale-status/bootstrap.zip of this repository (`make build`)."
  type        = string
  default     = null
}

variable "drain_hook_zip" {
  description = "Path of the drain-hook Lambda zip; null uses target/lambda/drain-hook/bootstrap.zip of this repository (`make build`)."
  type        = string
  default     = null
}

variable "alarm_actions" {
  description = "ARNs (e.g. an SNS topic that pages you) notified when either Lambda keeps failing."
  type        = list(string)
  default     = []
}
