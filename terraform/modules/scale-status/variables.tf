variable "name" {
  description = "Name of the Lambda function; also names its role, log group, schedule and alarm."
  type        = string
  default     = "ecs-scaler-scale-status"
  nullable    = false

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,54}$", var.name))
    error_message = "name must be 1-54 letters, digits, hyphens or underscores (room is left for the suffixes of the role and rule names)."
  }
}

variable "zip_path" {
  description = "Path of the Lambda package (bootstrap.zip built by `make build`, at target/lambda/scale-status/bootstrap.zip)."
  type        = string
  nullable    = false

  validation {
    condition     = endswith(var.zip_path, ".zip")
    error_message = "zip_path must point at a .zip file."
  }
}

variable "namespace" {
  description = "SCALE_NAMESPACE and the schedule input's namespace: where ScaleStatus is published. The ScaleStatus alarms must read the same namespace."
  type        = string
  default     = "Curalate/AutoScaling"
  nullable    = false

  validation {
    condition     = length(var.namespace) > 0 && length(var.namespace) <= 255 && !startswith(var.namespace, "AWS/")
    error_message = "namespace must be 1-255 characters and must not start with AWS/."
  }
}

variable "clusters" {
  description = "Clusters listed in the schedule's constant input, with optional per-cluster CPU and memory reservation thresholds in percent. Listed clusters are managed even without the ecs-scaler:enabled tag. Empty sends a plain scheduled event: the function then uses settings.clusters and the clusters tagged ecs-scaler:enabled=true. The drain hook's termination policy never sees these per-cluster thresholds: limits both Lambdas must judge by belong in settings (and the drain hook module's cpu_min, cpu_max, memory_min, memory_max) or in the cluster's ecs-scaler:* tags."
  type = list(object({
    name = string
    cpu = optional(object({
      min = number
      max = number
    }))
    memory = optional(object({
      min = number
      max = number
    }))
  }))
  default  = []
  nullable = false

  validation {
    condition     = alltrue([for cluster in var.clusters : can(regex("^[a-zA-Z0-9_-]{1,255}$", cluster.name))])
    error_message = "Every cluster needs an ECS cluster name (letters, digits, hyphens, underscores)."
  }
  validation {
    condition     = length(distinct([for cluster in var.clusters : cluster.name])) == length(var.clusters)
    error_message = "Each cluster may be listed once."
  }
  validation {
    condition = alltrue(flatten([
      for cluster in var.clusters : [
        for thresholds in [cluster.cpu, cluster.memory] :
        thresholds == null ? true : try(thresholds.min >= 0 && thresholds.max <= 100 && thresholds.min < thresholds.max, false)
      ]
    ]))
    error_message = "Cluster thresholds must satisfy 0 <= min < max <= 100 (percent of reserved CPU or memory)."
  }
}

variable "settings" {
  description = "Account-wide defaults passed as environment variables (CLUSTERS, CPU_MIN, CPU_MAX, MEMORY_MIN, MEMORY_MAX, PLACEMENT_CHECK, LOOKBACK_SECONDS, STALE_AFTER_SECONDS). Unset attributes leave the function's built-in defaults. Per-cluster thresholds in clusters, then ecs-scaler:* cluster tags, override them. The drain hook's termination policy judges a scale-in by the same CPU_MIN, CPU_MAX, MEMORY_MIN and MEMORY_MAX (under the same tags): give the drain hook module the same values."
  type = object({
    clusters            = optional(list(string), [])
    cpu_min             = optional(number)
    cpu_max             = optional(number)
    memory_min          = optional(number)
    memory_max          = optional(number)
    placement_check     = optional(bool)
    lookback_seconds    = optional(number)
    stale_after_seconds = optional(number)
  })
  default  = {}
  nullable = false

  validation {
    condition = alltrue([
      for percent in [var.settings.cpu_min, var.settings.cpu_max, var.settings.memory_min, var.settings.memory_max] :
      percent == null ? true : percent >= 0 && percent <= 100
    ])
    error_message = "settings thresholds must be percentages between 0 and 100."
  }
  validation {
    condition = alltrue([
      for pair in [[var.settings.cpu_min, var.settings.cpu_max], [var.settings.memory_min, var.settings.memory_max]] :
      pair[0] == null || pair[1] == null ? true : pair[0] < pair[1]
    ])
    error_message = "settings: cpu_min must be below cpu_max and memory_min below memory_max."
  }
  validation {
    condition = alltrue([
      for seconds in [var.settings.lookback_seconds, var.settings.stale_after_seconds] :
      seconds == null ? true : seconds >= 60 && seconds <= 86400 && floor(seconds) == seconds
    ])
    error_message = "settings.lookback_seconds and settings.stale_after_seconds must be whole numbers of seconds between 60 and 86400."
  }
}

variable "log_level" {
  description = "RUST_LOG filter for the function's logs, e.g. info or scale_status=debug,info."
  type        = string
  default     = "info"
  nullable    = false
}

variable "schedule_expression" {
  description = "EventBridge schedule of the function. ScaleStatus is a one-minute metric and the alarms read 60 s periods."
  type        = string
  default     = "rate(1 minute)"
  nullable    = false

  validation {
    condition     = can(regex("^(rate|cron)\\(.+\\)$", var.schedule_expression))
    error_message = "schedule_expression must be a rate(...) or cron(...) expression."
  }
}

variable "timeout" {
  description = "Lambda timeout in seconds; keep it below the schedule interval."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.timeout >= 3 && var.timeout <= 60
    error_message = "timeout must be between 3 and 60 seconds: a tick must finish before the next one starts."
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

variable "reserved_concurrent_executions" {
  description = "Reserved concurrency for the function. The default 1 runs one evaluation at a time: an event storm and the minute's tick queue up behind each other (Lambda retries throttled asynchronous invocations) instead of acting on the same cluster at once. -1 leaves it unreserved, for accounts whose concurrency limit is too low to reserve any (new accounts); the step policy's warm-up then still keeps concurrent evaluations from adding the same instances twice."
  type        = number
  default     = 1
  nullable    = false

  validation {
    condition     = var.reserved_concurrent_executions >= -1 && floor(var.reserved_concurrent_executions) == var.reserved_concurrent_executions
    error_message = "reserved_concurrent_executions must be -1 (unreserved) or a whole number >= 0 (1 serialises the tick and the placement-failure events)."
  }
}

variable "consolidate" {
  description = "CONSOLIDATE: whether the function may publish ScaleStatus 0 (scale down) to consolidate, when the cheapest instance's tasks fit on the others. A cluster's ecs-scaler:consolidate tag overrides it."
  type        = bool
  default     = true
  nullable    = false
}

variable "consolidate_headroom" {
  description = "CONSOLIDATE_HEADROOM: points below each max threshold that consolidation leaves (a removal is judged against max - headroom), so the next small rise does not undo it. A cluster's ecs-scaler:consolidate-headroom tag overrides it. The drain hook's termination policy leaves the same headroom when it chooses what a scale-in takes: give the drain hook module the same value."
  type        = number
  default     = 5
  nullable    = false

  validation {
    condition     = var.consolidate_headroom >= 0 && var.consolidate_headroom <= 100
    error_message = "consolidate_headroom must be between 0 and 100 (percentage points), got ${var.consolidate_headroom}."
  }
}

variable "disruption_budget" {
  description = "DISRUPTION_BUDGET: how many instances with tasks may drain voluntarily at once (consolidation and the sized scale-in together), a count (\"2\") or a share of the ACTIVE instances rounded up (\"10%\"). Empty instances do not count. null: the function's default, 10%. A cluster's ecs-scaler:disruption-budget tag overrides it (write \"10 percent\" there: tags cannot hold %)."
  type        = string
  default     = null

  validation {
    condition     = var.disruption_budget == null || can(regex("^([0-9]+|[0-9]+(\\.[0-9]+)? ?(%|percent))$", var.disruption_budget))
    error_message = "disruption_budget must be a count such as \"2\" or a share such as \"10%\", got ${jsonencode(var.disruption_budget)}."
  }
}

variable "disruption_windows" {
  description = "DISRUPTION_WINDOWS: windows in which no instance is removed voluntarily (ScaleStatus is held at 1, reason disruption_window): each a five-field cron schedule in UTC and a duration, e.g. \"0 9 * * mon-fri 8h\". A cluster's ecs-scaler:disruption-windows tag overrides them (write any for *, join windows with +)."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for window in var.disruption_windows : length(split(" ", trimspace(window))) == 6 && !strcontains(window, "+")])
    error_message = "disruption_windows: each must be five cron fields and a duration (\"0 9 * * mon-fri 8h\"); not so: ${jsonencode([for window in var.disruption_windows : window if !(length(split(" ", trimspace(window))) == 6 && !strcontains(window, "+"))])}."
  }
}

variable "event_min_interval_seconds" {
  description = "EVENT_MIN_INTERVAL_SECONDS: at most one evaluation per cluster this often for ECS placement-failure events (the time of the last is the cluster's ecs-scaler:evaluated-at tag). The minute's tick is not throttled."
  type        = number
  default     = 60
  nullable    = false

  validation {
    condition     = var.event_min_interval_seconds >= 10 && var.event_min_interval_seconds <= 3600 && floor(var.event_min_interval_seconds) == var.event_min_interval_seconds
    error_message = "event_min_interval_seconds must be a whole number of seconds between 10 and 3600."
  }
}

variable "resync_seconds" {
  description = "RESYNC_SECONDS: how often a steady cluster is read again from scratch. While nothing its last verdict was decided from has changed (the cluster's counts and tags, the reservations, the settings, an open disruption window, its groups), a warm function publishes that verdict again without reading services, instances or tasks, and reads it again from scratch once per this period, each cluster at its own phase within it (so the deep reads of many clusters spread evenly over the period). A cold start always reads every cluster; a placement-failure event always reads its cluster. 60-3600."
  type        = number
  default     = 600
  nullable    = false

  validation {
    condition     = var.resync_seconds >= 60 && var.resync_seconds <= 3600 && floor(var.resync_seconds) == var.resync_seconds
    error_message = "resync_seconds must be a whole number of seconds between 60 and 3600, got ${var.resync_seconds}."
  }
}

variable "ecs_api_share" {
  description = "ECS_API_SHARE: the share of each of the account's ECS throttling buckets (per Region, shared with every other ECS client of the account: deploy pipelines, consoles) this function may use, above 0 and at most 1. Every ECS request, retries included, first takes a token from a client-side bucket of that share of the account bucket's burst and refill rate. The drain hook has a budget of its own (its ecs_api_share): together they may use the sum of both shares."
  type        = number
  default     = 0.1
  nullable    = false

  validation {
    condition     = var.ecs_api_share > 0 && var.ecs_api_share <= 1
    error_message = "ecs_api_share must be above 0 and at most 1 (a share of each ECS throttling bucket), got ${var.ecs_api_share}."
  }
}

variable "ecs_api_max_wait_ms" {
  description = "ECS_API_MAX_WAIT_MS: how long, in milliseconds, an ECS call may wait for a token of its ecs_api_share bucket. A call that would wait longer is not made: the tick defers the cluster (and every later one that needs reads) to the next tick, which takes it first, instead of publishing a status from partial reads. A whole number >= 0, below the function's timeout."
  type        = number
  default     = 2000
  nullable    = false

  validation {
    condition     = var.ecs_api_max_wait_ms >= 0 && floor(var.ecs_api_max_wait_ms) == var.ecs_api_max_wait_ms
    error_message = "ecs_api_max_wait_ms must be a whole number of milliseconds, 0 or more, got ${var.ecs_api_max_wait_ms}."
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
