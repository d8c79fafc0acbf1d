variable "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  type        = string
  default     = "ecs-scaler"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,255}$", var.dashboard_name))
    error_message = "dashboard_name must be 1-255 letters, digits, hyphens or underscores."
  }
}

variable "clusters" {
  description = "Clusters to show, each with its ASG names by colour (the blue/green module's autoscaling_group_names) and the reservation thresholds drawn on the CPU and memory graphs (defaults: the scale-status Lambda's built-in 60/85)."
  type = list(object({
    name      = string
    asg_names = optional(map(string), {})
    cpu = optional(object({
      min = number
      max = number
    }), { min = 60, max = 85 })
    memory = optional(object({
      min = number
      max = number
    }), { min = 60, max = 85 })
  }))
  nullable = false

  validation {
    condition     = length(var.clusters) > 0
    error_message = "clusters needs at least one cluster."
  }
  validation {
    condition     = alltrue([for cluster in var.clusters : can(regex("^[a-zA-Z0-9_-]{1,255}$", cluster.name))])
    error_message = "Every cluster needs an ECS cluster name (1-255 letters, digits, hyphens, underscores)."
  }
  validation {
    condition = alltrue(flatten([
      for cluster in var.clusters : [
        for thresholds in [cluster.cpu, cluster.memory] :
        thresholds.min >= 0 && thresholds.max <= 100 && thresholds.min < thresholds.max
      ]
    ]))
    error_message = "Cluster thresholds must satisfy 0 <= min < max <= 100."
  }
}

variable "namespace" {
  description = "CloudWatch namespace of ScaleStatus, InstancesShortfall, InstancesSurplus and the drain metrics."
  type        = string
  default     = "Curalate/AutoScaling"
  nullable    = false
}

variable "scale_status_function_name" {
  description = "Name of the scale-status Lambda, for its Errors and Duration graphs; null leaves it off."
  type        = string
  default     = null
}

variable "drain_hook_function_name" {
  description = "Name of the drain-hook Lambda, for its Errors and Duration graphs; null leaves it off."
  type        = string
  default     = null
}

variable "period" {
  description = "Period of every graph in seconds."
  type        = number
  default     = 60
  nullable    = false

  validation {
    condition     = var.period >= 60 && var.period % 60 == 0
    error_message = "period must be a multiple of 60 seconds."
  }
}
