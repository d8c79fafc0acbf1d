variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "cluster_name" {
  description = "Name of the ECS cluster; also names the Lambdas, roles, ASGs and alarms."
  type        = string
  default     = "default"

  validation {
    # The longest derived name: the Lambda "<cluster>-scale-status" (the scale-status module allows 54 characters).
    condition     = can(regex("^[a-zA-Z0-9_-]{1,41}$", var.cluster_name))
    error_message = "cluster_name must be 1-41 letters, digits, hyphens or underscores: the example names the scale-status Lambda <cluster_name>-scale-status, which may have 54 characters."
  }
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
  description = "The blue colour. image_id is required and pinned (see the README for the current ECS-optimized AMI): an AMI looked up on every plan would change the serving colour under you. desired_capacity defaults to min_size and is used only when the group is created."
  type = object({
    image_id         = string
    instance_type    = optional(string, "m6i.large")
    min_size         = optional(number, 2)
    max_size         = optional(number, 6)
    desired_capacity = optional(number)
  })
  nullable = false
}

variable "green" {
  description = "The green colour, idle (all sizes 0) until the next AMI upgrade. image_id is required once max_size > 0; an idle green uses blue's."
  type = object({
    image_id         = optional(string)
    instance_type    = optional(string, "m6i.large")
    min_size         = optional(number, 0)
    max_size         = optional(number, 0)
    desired_capacity = optional(number)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.green.max_size == 0 || var.green.image_id != null
    error_message = "green.image_id is required when green.max_size > 0: bringing green up is how a new AMI is rolled out, so name it."
  }
}

variable "lifecycle_hook_heartbeat_timeout" {
  description = "Heartbeat timeout of the termination lifecycle hooks in seconds (120-7200). Auto Scaling ends any wait after 100 times this (at most 48 h)."
  type        = number
  default     = 300
  nullable    = false
}

variable "max_drain_seconds" {
  description = "How long the drain hook holds an instance before it gives up (with CONTINUE). Must not exceed min(100 x lifecycle_hook_heartbeat_timeout, 172800), where Auto Scaling ends the wait anyway (checked)."
  type        = number
  default     = 3600
  nullable    = false
}

variable "thresholds" {
  description = "Reservation thresholds in percent: scale up above max, scale down below min. Both Lambdas get them (CPU_MIN, CPU_MAX, MEMORY_MIN, MEMORY_MAX): scale-status judges by them, and so does the drain hook's termination policy when it chooses what a scale-in takes. A cluster's ecs-scaler:* tags override them in both."
  type = object({
    cpu    = object({ min = number, max = number })
    memory = object({ min = number, max = number })
  })
  default = {
    cpu    = { min = 40, max = 75 }
    memory = { min = 40, max = 75 }
  }
}

variable "consolidate_headroom" {
  description = "CONSOLIDATE_HEADROOM of both Lambdas: points below each max that a removal leaves (scale-status judges a 0 against max - headroom, the drain hook's termination policy a scale-in the same way), so the next small rise does not undo it."
  type        = number
  default     = 5
  nullable    = false

  validation {
    condition     = var.consolidate_headroom >= 0 && var.consolidate_headroom <= 100
    error_message = "consolidate_headroom must be between 0 and 100 (percentage points), got ${var.consolidate_headroom}."
  }
}

variable "ecs_api_share" {
  description = "ECS_API_SHARE of each Lambda: the share of each of the account's ECS throttling buckets it may use (above 0, at most 1). Each Lambda has a budget of its own, so together they may use up to twice this."
  type        = number
  default     = 0.1
  nullable    = false

  validation {
    condition     = var.ecs_api_share > 0 && var.ecs_api_share <= 1
    error_message = "ecs_api_share must be above 0 and at most 1 (a share of each ECS throttling bucket), got ${var.ecs_api_share}."
  }
}

variable "ecs_api_max_wait_ms" {
  description = "ECS_API_MAX_WAIT_MS of each Lambda: how long, in milliseconds, an ECS call may wait for a token of its budget; scale-status defers the cluster to the next tick rather than wait longer, and the drain hook checks again at its next reconcile."
  type        = number
  default     = 2000
  nullable    = false

  validation {
    condition     = var.ecs_api_max_wait_ms >= 0 && floor(var.ecs_api_max_wait_ms) == var.ecs_api_max_wait_ms
    error_message = "ecs_api_max_wait_ms must be a whole number of milliseconds, 0 or more, got ${var.ecs_api_max_wait_ms}."
  }
}

variable "resync_seconds" {
  description = "RESYNC_SECONDS of scale-status: how often a steady cluster is read again from scratch (60-3600); in between, a warm function publishes the last verdict again while nothing it was decided from has changed."
  type        = number
  default     = 600
  nullable    = false

  validation {
    condition     = var.resync_seconds >= 60 && var.resync_seconds <= 3600 && floor(var.resync_seconds) == var.resync_seconds
    error_message = "resync_seconds must be a whole number of seconds between 60 and 3600, got ${var.resync_seconds}."
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
