variable "name" {
  description = "Name of the Lambda function; also names its role, log group, SNS topic, schedule and alarm."
  type        = string
  default     = "ecs-scaler-drain-hook"
  nullable    = false

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,54}$", var.name))
    error_message = "name must be 1-54 letters, digits, hyphens or underscores (room is left for the suffixes of the role and rule names)."
  }
}

variable "zip_path" {
  description = "Path of the Lambda package (bootstrap.zip built by `make build`, at target/lambda/drain-hook/bootstrap.zip)."
  type        = string
  nullable    = false

  validation {
    condition     = endswith(var.zip_path, ".zip")
    error_message = "zip_path must point at a .zip file."
  }
}

variable "cluster_names" {
  description = "ECS clusters whose instances this function drains. The IAM policy is scoped to them and to ASGs tagged ecs-scaler:cluster with one of these names."
  type        = list(string)
  nullable    = false

  validation {
    condition     = length(var.cluster_names) > 0 && alltrue([for name in var.cluster_names : can(regex("^[a-zA-Z0-9_-]{1,255}$", name))])
    error_message = "cluster_names needs at least one ECS cluster name (letters, digits, hyphens, underscores)."
  }
}

variable "fallback_cluster" {
  description = "CLUSTER: the cluster of last resort, when neither the notification metadata nor the group's ecs-scaler:cluster tag names one. Must be one of cluster_names; null leaves it unset."
  type        = string
  default     = null
}

variable "asg_names" {
  description = "ASG_NAMES: Auto Scaling groups the reconcile scans. Empty lets the function find them by their ecs-scaler:cluster tag."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "lifecycle_hook_name" {
  description = "LIFECYCLE_HOOK_NAME: only handle lifecycle actions of this hook; null handles any termination hook that notifies this topic."
  type        = string
  default     = null
}

variable "namespace" {
  description = "SCALE_NAMESPACE: CloudWatch namespace for DrainingInstances, DrainSeconds and DrainTimeouts."
  type        = string
  default     = "Curalate/AutoScaling"
  nullable    = false

  validation {
    condition     = length(var.namespace) > 0 && length(var.namespace) <= 255 && !startswith(var.namespace, "AWS/")
    error_message = "namespace must be 1-255 characters and must not start with AWS/."
  }
}

variable "poll_seconds" {
  description = "POLL_SECONDS: how often a reconcile re-checks the draining instances of a cluster, with one snapshot for all of them (each held instance gets one heartbeat per reconcile)."
  type        = number
  default     = 10
  nullable    = false

  validation {
    condition     = var.poll_seconds >= 1 && var.poll_seconds <= 60 && floor(var.poll_seconds) == var.poll_seconds
    error_message = "poll_seconds must be a whole number between 1 and 60."
  }
}

variable "reconcile_seconds" {
  description = "RECONCILE_SECONDS: how long one scheduled reconcile keeps checking (every poll_seconds). Keep it below the reconcile schedule's interval: then reconciles never overlap, and each cluster has one poller at a time. Lifecycle notifications only start drains; they do not poll."
  type        = number
  default     = 45
  nullable    = false

  validation {
    condition     = var.reconcile_seconds >= 0 && var.reconcile_seconds <= 840 && floor(var.reconcile_seconds) == var.reconcile_seconds
    error_message = "reconcile_seconds must be a whole number between 0 and 840."
  }
}

variable "max_drain_seconds" {
  description = "MAX_DRAIN_SECONDS: after this long the drain gives up on an instance and completes with drain_timeout_result. Auto Scaling ends any wait after min(100 x the lifecycle hook's heartbeat timeout, 48 h) regardless, with the hook's default result; keep this below that (with the blue/green module's default 300 s heartbeat timeout: 30000 s). This module cannot see the heartbeat timeout: the complete example checks the pair."
  type        = number
  default     = 3600
  nullable    = false

  validation {
    # Auto Scaling ends a lifecycle action after min(100 x heartbeat timeout, 48 hours) whatever the heartbeats;
    # only the 48 hours are known here.
    condition     = var.max_drain_seconds >= 60 && var.max_drain_seconds <= 172800 && floor(var.max_drain_seconds) == var.max_drain_seconds
    error_message = "max_drain_seconds must be a whole number between 60 and 172800 (48 hours, the Auto Scaling limit on a lifecycle action; it also ends one after 100 times the hook's heartbeat timeout, if that is shorter)."
  }
}

variable "drain_timeout_result" {
  description = "DRAIN_TIMEOUT_RESULT: lifecycle action result after max_drain_seconds, CONTINUE (terminate anyway) or ABANDON."
  type        = string
  default     = "CONTINUE"
  nullable    = false

  validation {
    condition     = contains(["CONTINUE", "ABANDON"], var.drain_timeout_result)
    error_message = "drain_timeout_result must be CONTINUE or ABANDON."
  }
}

variable "cpu_min" {
  description = "CPU_MIN: reserved CPU, in percent, below which scale-status scales a cluster down. The termination policy judges by the max alone, but the function checks each min against its max at its cold start (an unset end is its default) and a cluster's tags layer over both: set it to scale-status's (its settings.cpu_min). A cluster's ecs-scaler:cpu-min tag overrides it. null leaves CPU_MIN unset: the function's default, 60."
  type        = number
  default     = null

  validation {
    condition     = var.cpu_min == null || try(var.cpu_min >= 0 && var.cpu_min <= 100, false)
    error_message = "cpu_min must be a percentage between 0 and 100, got ${jsonencode(var.cpu_min)}."
  }
}

variable "cpu_max" {
  description = "CPU_MAX: reserved CPU, in percent, above which scale-status scales a cluster up. The termination policy takes an instance on a scale-in or rebalance only if both reservations stay below their max less consolidate_headroom without it, the limits scale-status judged its 0 by: set it to scale-status's (its settings.cpu_max). A cluster's ecs-scaler:cpu-max tag overrides it. null leaves CPU_MAX unset: the function's default, 85."
  type        = number
  default     = null

  validation {
    condition     = var.cpu_max == null || try(var.cpu_max >= 0 && var.cpu_max <= 100, false)
    error_message = "cpu_max must be a percentage between 0 and 100, got ${jsonencode(var.cpu_max)}."
  }
}

variable "memory_min" {
  description = "MEMORY_MIN: reserved memory, in percent, below which scale-status scales a cluster down. The termination policy judges by the max alone, but the function checks each min against its max at its cold start (an unset end is its default) and a cluster's tags layer over both: set it to scale-status's (its settings.memory_min). A cluster's ecs-scaler:memory-min tag overrides it. null leaves MEMORY_MIN unset: the function's default, 60."
  type        = number
  default     = null

  validation {
    condition     = var.memory_min == null || try(var.memory_min >= 0 && var.memory_min <= 100, false)
    error_message = "memory_min must be a percentage between 0 and 100, got ${jsonencode(var.memory_min)}."
  }
}

variable "memory_max" {
  description = "MEMORY_MAX: reserved memory, in percent, above which scale-status scales a cluster up. The termination policy takes an instance on a scale-in or rebalance only if both reservations stay below their max less consolidate_headroom without it, the limits scale-status judged its 0 by: set it to scale-status's (its settings.memory_max). A cluster's ecs-scaler:memory-max tag overrides it. null leaves MEMORY_MAX unset: the function's default, 85."
  type        = number
  default     = null

  validation {
    condition     = var.memory_max == null || try(var.memory_max >= 0 && var.memory_max <= 100, false)
    error_message = "memory_max must be a percentage between 0 and 100, got ${jsonencode(var.memory_max)}."
  }
}

variable "consolidate_headroom" {
  description = "CONSOLIDATE_HEADROOM: points below each max that a removal leaves, so the next small rise does not undo it: the termination policy takes an instance on a scale-in or rebalance only if both reservations stay below max less this without it, as scale-status judged its 0. Set it to scale-status's (its consolidate_headroom). A cluster's ecs-scaler:consolidate-headroom tag overrides it. null leaves CONSOLIDATE_HEADROOM unset: the function's default, 5."
  type        = number
  default     = null

  validation {
    condition     = var.consolidate_headroom == null || try(var.consolidate_headroom >= 0 && var.consolidate_headroom <= 100, false)
    error_message = "consolidate_headroom must be a number of percentage points between 0 and 100, got ${jsonencode(var.consolidate_headroom)}."
  }
}

variable "ecs_api_share" {
  description = "ECS_API_SHARE: the share of each of the account's ECS throttling buckets (per Region, shared with every other ECS client of the account: deploy pipelines, consoles) this function may use, above 0 and at most 1. Every ECS request, retries included, first takes a token from a client-side bucket of that share of the account bucket's burst and refill rate. scale-status has a budget of its own (its ecs_api_share): together they may use the sum of both shares."
  type        = number
  default     = 0.1
  nullable    = false

  validation {
    condition     = var.ecs_api_share > 0 && var.ecs_api_share <= 1
    error_message = "ecs_api_share must be above 0 and at most 1 (a share of each ECS throttling bucket), got ${var.ecs_api_share}."
  }
}

variable "ecs_api_max_wait_ms" {
  description = "ECS_API_MAX_WAIT_MS: how long, in milliseconds, an ECS call may wait for a token of its ecs_api_share bucket. A call that would wait longer is not made and fails at once, as a failed read does: the reconcile checks the instance again next time (it stays held), and the termination policy answers as it does when it cannot judge (no instance for a scale-in that can wait, Auto Scaling's own candidates otherwise; its 1.5 s deadline holds whatever this is). A whole number >= 0, below the function's timeout."
  type        = number
  default     = 2000
  nullable    = false

  validation {
    condition     = var.ecs_api_max_wait_ms >= 0 && floor(var.ecs_api_max_wait_ms) == var.ecs_api_max_wait_ms
    error_message = "ecs_api_max_wait_ms must be a whole number of milliseconds, 0 or more, got ${var.ecs_api_max_wait_ms}."
  }
}

variable "log_level" {
  description = "RUST_LOG filter for the function's logs, e.g. info or drain_hook=debug,info."
  type        = string
  default     = "info"
  nullable    = false
}

variable "timeout" {
  description = "Lambda timeout in seconds. A reconcile polls every poll_seconds for reconcile_seconds (and stops 5 s before this deadline in any case), then leaves the instance to the next reconcile."
  type        = number
  default     = 120
  nullable    = false

  validation {
    condition     = var.timeout >= 30 && var.timeout <= 900
    error_message = "timeout must be between 30 and 900 seconds."
  }
}

variable "memory_size" {
  description = "Lambda memory in MB."
  type        = number
  default     = 128
  nullable    = false

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240
    error_message = "memory_size must be between 128 and 10240 MB."
  }
}

variable "reconcile_schedule_expression" {
  description = "EventBridge schedule of the reconcile, which picks up instances whose notification was lost and completes finished drains."
  type        = string
  default     = "rate(1 minute)"
  nullable    = false

  validation {
    condition     = can(regex("^(rate|cron)\\(.+\\)$", var.reconcile_schedule_expression))
    error_message = "reconcile_schedule_expression must be a rate(...) or cron(...) expression."
  }
}

variable "reserved_concurrent_executions" {
  description = "Reserved concurrency for the function; -1 leaves it unreserved (new accounts cannot reserve any)."
  type        = number
  default     = -1
  nullable    = false

  validation {
    condition     = var.reserved_concurrent_executions >= -1
    error_message = "reserved_concurrent_executions must be -1 (unreserved) or >= 0."
  }
}

variable "autoscaling_service_role_arn" {
  description = "The Auto Scaling service-linked role that invokes the function as the groups' custom termination policy (the permission's principal). null uses the account's default, arn:<partition>:iam::<account>:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling; set it if the groups use a custom-suffix service-linked role (service_linked_role_arn)."
  type        = string
  default     = null

  validation {
    condition     = var.autoscaling_service_role_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/aws-service-role/autoscaling\\.amazonaws\\.com/AWSServiceRoleForAutoScaling[A-Za-z0-9_+=,.@-]*$", var.autoscaling_service_role_arn))
    error_message = "autoscaling_service_role_arn must be the ARN of an Auto Scaling service-linked role (arn:aws:iam::<account>:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling[_suffix])."
  }
}

variable "sns_kms_key_arn" {
  description = "Customer managed KMS key ARN for the topic. null uses the AWS managed key alias/aws/sns. With a customer key, its key policy must let this module's Auto Scaling role use it (the role's IAM policy already allows it)."
  type        = string
  default     = null

  validation {
    condition     = var.sns_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.sns_kms_key_arn))
    error_message = "sns_kms_key_arn must be a KMS key ARN."
  }
}

variable "log_retention_in_days" {
  description = "Retention of the function's log group in days; 0 keeps logs forever."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be one of the values CloudWatch Logs allows (0 = forever, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

variable "log_kms_key_arn" {
  description = "KMS key ARN to encrypt the log group with; null uses CloudWatch Logs' own encryption."
  type        = string
  default     = null
}

variable "errors_alarm_enabled" {
  description = "Create an alarm on the function's Errors metric."
  type        = bool
  default     = true
  nullable    = false
}

variable "alarm_actions" {
  description = "ARNs (e.g. SNS topics) notified when the Errors alarm fires and when it recovers."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
  nullable    = false
}
