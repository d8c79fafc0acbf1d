variable "cluster_name" {
  description = "Name of the ECS cluster the instances join. Also names the ASGs, launch templates and alarms, and is the ClusterName dimension of the ScaleStatus metric."
  type        = string
  nullable    = false

  validation {
    # ECS allows 255, but the names derived from it are shorter: the launch template "<cluster>-green" may have
    # 125 characters (the AWS provider's limit; AWS's is 128), the alarm "<cluster>_ScaleStatus_high_green" 255.
    condition     = can(regex("^[a-zA-Z0-9_-]{1,119}$", var.cluster_name))
    error_message = "cluster_name must be 1-119 letters, digits, hyphens or underscores: ECS allows 255, but the launch template name <cluster_name>-green must fit in the 125 characters the AWS provider accepts."
  }
}

variable "colours" {
  description = "The two colours, keyed blue and green: AMI, instance type and sizes of each. A colour with max_size = 0 is idle; keep the one you are not using at min_size = max_size = 0. desired_capacity (default: min_size) is the size a group is created with; after that the ScaleStatus alarms own it (see README)."
  type = map(object({
    image_id         = string
    instance_type    = string
    min_size         = number
    max_size         = number
    desired_capacity = optional(number)
  }))
  nullable = false

  validation {
    condition     = toset(keys(var.colours)) == toset(["blue", "green"])
    error_message = "colours must have exactly two keys, blue and green (got ${jsonencode(keys(var.colours))})."
  }
  validation {
    condition     = alltrue([for colour in values(var.colours) : can(regex("^ami-[0-9a-f]{8,17}$", colour.image_id))])
    error_message = "colours: image_id must be an AMI id (ami-xxxxxxxx); not one in ${jsonencode([for name, colour in var.colours : name if !can(regex("^ami-[0-9a-f]{8,17}$", colour.image_id))])}."
  }
  validation {
    condition     = alltrue([for colour in values(var.colours) : colour.min_size >= 0 && colour.min_size <= colour.max_size && floor(colour.min_size) == colour.min_size && floor(colour.max_size) == colour.max_size])
    error_message = "colours: min_size and max_size must be whole numbers with 0 <= min_size <= max_size; not so in ${jsonencode([for name, colour in var.colours : name if !(colour.min_size >= 0 && colour.min_size <= colour.max_size && floor(colour.min_size) == colour.min_size && floor(colour.max_size) == colour.max_size)])}."
  }
  validation {
    condition     = alltrue([for colour in values(var.colours) : colour.desired_capacity == null || try(colour.desired_capacity >= colour.min_size && colour.desired_capacity <= colour.max_size, false)])
    error_message = "colours: desired_capacity must lie between min_size and max_size; not so in ${jsonencode([for name, colour in var.colours : name if !(colour.desired_capacity == null || try(colour.desired_capacity >= colour.min_size && colour.desired_capacity <= colour.max_size, false))])}."
  }
}

variable "subnet_ids" {
  description = "Subnets the instances are launched in (the ASGs' vpc_zone_identifier). Takes precedence over availability_zones."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "availability_zones" {
  description = "Availability zones for the default VPC, used only when subnet_ids is empty (EC2-Classic era setups)."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "security_group_ids" {
  description = "Security groups attached to the container instances."
  type        = list(string)
  nullable    = false

  validation {
    condition     = length(var.security_group_ids) > 0
    error_message = "security_group_ids needs at least one security group."
  }
}

variable "iam_instance_profile" {
  description = "Name or ARN of the instance profile the container instances run with (it needs the AmazonEC2ContainerServiceforEC2Role permissions)."
  type        = string
  nullable    = false
}

variable "key_name" {
  description = "EC2 key pair for SSH access; null for none (prefer SSM Session Manager)."
  type        = string
  default     = null
}

variable "root_volume_size" {
  description = "Size of the encrypted root volume in GiB."
  type        = number
  default     = 50
  nullable    = false

  validation {
    condition     = var.root_volume_size >= 8 && var.root_volume_size <= 16384
    error_message = "root_volume_size must be between 8 and 16384 GiB."
  }
}

variable "root_volume_type" {
  description = "EBS volume type of the root volume."
  type        = string
  default     = "gp3"
  nullable    = false

  validation {
    condition     = contains(["gp2", "gp3", "io1", "io2", "st1", "sc1", "standard"], var.root_volume_type)
    error_message = "root_volume_type must be one of gp2, gp3, io1, io2, st1, sc1, standard."
  }
}

variable "root_device_name" {
  description = "Device name of the AMI's root volume (/dev/xvda on the ECS-optimized Amazon Linux AMIs)."
  type        = string
  default     = "/dev/xvda"
  nullable    = false
}

variable "root_volume_kms_key_id" {
  description = "KMS key ARN for the root volume; null uses the account's default EBS key."
  type        = string
  default     = null
}

variable "metadata_http_put_response_hop_limit" {
  description = "IMDSv2 hop limit. 1 keeps bridge-mode containers away from the instance role's credentials (tasks should use task roles); raise to 2 if containers must reach the instance metadata service."
  type        = number
  default     = 1
  nullable    = false

  validation {
    condition     = var.metadata_http_put_response_hop_limit >= 1 && var.metadata_http_put_response_hop_limit <= 64
    error_message = "metadata_http_put_response_hop_limit must be between 1 and 64."
  }
}

variable "ecs_agent_config" {
  description = "ECS agent image and task cleanup settings written to /etc/ecs/ecs.config. They replace the old docker prune cron jobs. Durations use Go syntax (30m, 1h)."
  type = object({
    image_cleanup_interval            = optional(string, "30m")
    image_minimum_cleanup_age         = optional(string, "1h")
    num_images_delete_per_cycle       = optional(number, 5)
    engine_task_cleanup_wait_duration = optional(string, "1h")
  })
  default  = {}
  nullable = false

  validation {
    condition = alltrue([
      for duration in [
        var.ecs_agent_config.image_cleanup_interval,
        var.ecs_agent_config.image_minimum_cleanup_age,
        var.ecs_agent_config.engine_task_cleanup_wait_duration,
      ] : can(regex("^([0-9]+(\\.[0-9]+)?(h|m|s))+$", duration))
    ])
    error_message = "ecs_agent_config durations must be Go durations such as 10m, 1h or 1h30m."
  }
  validation {
    condition     = var.ecs_agent_config.num_images_delete_per_cycle >= 1 && floor(var.ecs_agent_config.num_images_delete_per_cycle) == var.ecs_agent_config.num_images_delete_per_cycle
    error_message = "ecs_agent_config.num_images_delete_per_cycle must be a whole number >= 1."
  }
}

variable "ecs_config_extra" {
  description = "Additional ECS_* settings appended to /etc/ecs/ecs.config, e.g. { ECS_ENABLE_SPOT_INSTANCE_DRAINING = \"true\" }."
  type        = map(string)
  default     = {}
  nullable    = false

  validation {
    condition     = alltrue([for key in keys(var.ecs_config_extra) : can(regex("^ECS_[A-Z0-9_]+$", key))])
    error_message = "ecs_config_extra keys must be ECS agent settings (ECS_ followed by capitals, digits, underscores)."
  }
  validation {
    condition     = alltrue([for value in values(var.ecs_config_extra) : !can(regex("[\\r\\n]", value))])
    error_message = "ecs_config_extra values must be single lines."
  }
  validation {
    condition     = length(setintersection(keys(var.ecs_config_extra), ["ECS_CLUSTER", "ECS_IMAGE_CLEANUP_INTERVAL", "ECS_IMAGE_MINIMUM_CLEANUP_AGE", "ECS_NUM_IMAGES_DELETE_PER_CYCLE", "ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION"])) == 0
    error_message = "ecs_config_extra must not set ECS_CLUSTER or the cleanup settings; use cluster_name and ecs_agent_config."
  }
}

variable "drain_hook_notification_target_arn" {
  description = "SNS topic the termination lifecycle hook notifies (the drain-hook module's notification_target_arn)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:sns:", var.drain_hook_notification_target_arn))
    error_message = "drain_hook_notification_target_arn must be an SNS topic ARN."
  }
}

variable "drain_hook_role_arn" {
  description = "IAM role Auto Scaling assumes to publish to that topic (the drain-hook module's role_arn)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", var.drain_hook_role_arn))
    error_message = "drain_hook_role_arn must be an IAM role ARN."
  }
}

variable "lifecycle_hook_name" {
  description = "Name of the termination lifecycle hook on both ASGs. Pass the same name to the drain-hook module if it filters on it."
  type        = string
  default     = "ecs-scaler-drain"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9._/-]{1,255}$", var.lifecycle_hook_name))
    error_message = "lifecycle_hook_name must be 1-255 characters from A-Z a-z 0-9 . _ - /."
  }
}

variable "lifecycle_hook_heartbeat_timeout" {
  description = "Seconds an instance may sit in Terminating:Wait without a heartbeat before the default result (CONTINUE) applies. The drain Lambda heartbeats about every 10 s while it holds an instance and the reconcile runs every minute, so the default leaves room for several missed reconciles; at least 120 s. Auto Scaling also ends any wait after 100 times this (or 48 h, whichever is shorter), whatever the heartbeats: keep the drain hook's max_drain_seconds below that."
  type        = number
  default     = 300
  nullable    = false

  validation {
    # Auto Scaling accepts 30 s, but the drain Lambda may only be invoked by the once-a-minute reconcile: a
    # shorter timeout can run out between two reconciles and terminate an instance that is not drained yet.
    condition     = var.lifecycle_hook_heartbeat_timeout >= 120 && var.lifecycle_hook_heartbeat_timeout <= 7200 && floor(var.lifecycle_hook_heartbeat_timeout) == var.lifecycle_hook_heartbeat_timeout
    error_message = "lifecycle_hook_heartbeat_timeout must be a whole number of seconds between 120 and 7200. Auto Scaling accepts 30 s, but the drain Lambda may only run at the once-a-minute reconcile, so a timeout under 120 s can expire between two runs and let an undrained instance terminate (default result CONTINUE); 7200 s is the Auto Scaling maximum."
  }
}

variable "termination_policy_arn" {
  description = "The drain-hook module's termination_policy_arn: a Lambda function that chooses which instances a scale-in removes. Each group then has termination_policies = [this, \"OldestLaunchTemplate\", \"Default\"] (AWS requires the function first; the others break ties among the instances it returns). null keeps Auto Scaling's default termination policy."
  type        = string
  default     = null

  validation {
    condition     = var.termination_policy_arn == null || can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_-]{1,128})?$", var.termination_policy_arn))
    error_message = "termination_policy_arn must be a Lambda function ARN, unqualified or with a version or alias (not $LATEST, which Auto Scaling rejects): arn:aws:lambda:<region>:<account>:function:<name>[:<version or alias>]."
  }
}

variable "shortfall_warmup_seconds" {
  description = "estimated_instance_warmup of the shortfall step policies: for this long after a step launched an instance, Auto Scaling counts it as on its way, so executing the policy again for the same waiting tasks adds nothing. Make it about the time an instance takes to boot and register with the cluster."
  type        = number
  default     = 300
  nullable    = false

  validation {
    condition     = var.shortfall_warmup_seconds >= 0 && var.shortfall_warmup_seconds <= 3600 && floor(var.shortfall_warmup_seconds) == var.shortfall_warmup_seconds
    error_message = "shortfall_warmup_seconds must be a whole number of seconds between 0 and 3600."
  }
}

variable "autoscale_enabled" {
  description = "Create the ScaleStatus and InstancesSurplus alarms that drive the scaling policies, and tag the groups with their shortfall policy (sized scale-out by scale-status). With false the groups keep whatever size they have (the policies stay, for manual use)."
  type        = bool
  default     = true
  nullable    = false
}

variable "metric_namespace" {
  description = "CloudWatch namespace of the ScaleStatus metric (the scale-status Lambda's SCALE_NAMESPACE)."
  type        = string
  default     = "Curalate/AutoScaling"
  nullable    = false

  validation {
    condition     = length(var.metric_namespace) > 0 && length(var.metric_namespace) <= 255 && !startswith(var.metric_namespace, "AWS/")
    error_message = "metric_namespace must be 1-255 characters and must not start with AWS/."
  }
}

variable "scale_up" {
  description = "Scale-up policy, per alarm action: by default +15 % of the group's capacity and at least 2 instances (PercentChangeInCapacity with min_adjustment_magnitude), so a doubling of load takes about as many steps at 100 instances as at 10. adjustment_type = \"ChangeInCapacity\" adds a fixed number of instances instead. cooldown in seconds."
  type = object({
    adjustment_type          = optional(string, "PercentChangeInCapacity")
    adjustment               = optional(number, 15)
    min_adjustment_magnitude = optional(number, 2)
    cooldown                 = optional(number, 180)
  })
  default  = {}
  nullable = false

  validation {
    condition     = contains(["PercentChangeInCapacity", "ChangeInCapacity"], var.scale_up.adjustment_type)
    error_message = "scale_up.adjustment_type must be PercentChangeInCapacity or ChangeInCapacity."
  }
  validation {
    condition     = var.scale_up.adjustment >= 1 && floor(var.scale_up.adjustment) == var.scale_up.adjustment
    error_message = "scale_up.adjustment must be a whole number >= 1 (percent or instances, per adjustment_type)."
  }
  validation {
    condition     = var.scale_up.min_adjustment_magnitude >= 1 && floor(var.scale_up.min_adjustment_magnitude) == var.scale_up.min_adjustment_magnitude
    error_message = "scale_up.min_adjustment_magnitude must be a whole number >= 1."
  }
  validation {
    condition     = var.scale_up.cooldown >= 0
    error_message = "scale_up.cooldown must be >= 0 seconds."
  }
}

variable "scale_down" {
  description = "Scale-down policy cooldown in seconds. The step is always one instance (see main.tf)."
  type = object({
    cooldown = optional(number, 300)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.scale_down.cooldown >= 0
    error_message = "scale_down.cooldown must be >= 0 seconds."
  }
}

variable "alarm_high" {
  description = "Overrides for the <cluster>_ScaleStatus_high_<colour> alarms (ScaleStatus > threshold, i.e. 2 = scale up)."
  type = object({
    threshold           = optional(number, 1)
    statistic           = optional(string, "Maximum")
    period              = optional(number, 60)
    evaluation_periods  = optional(number, 4)
    datapoints_to_alarm = optional(number)
  })
  default  = {}
  nullable = false

  validation {
    condition     = contains(["Maximum", "Minimum", "Average", "Sum", "SampleCount"], var.alarm_high.statistic)
    error_message = "alarm_high.statistic must be Maximum, Minimum, Average, Sum or SampleCount."
  }
  validation {
    # ScaleStatus is 0, 1 or 2 and the alarm fires on ScaleStatus > threshold: at 2 or more it never could.
    condition     = var.alarm_high.threshold >= 0 && var.alarm_high.threshold < 2
    error_message = "alarm_high.threshold must satisfy 0 <= threshold < 2: ScaleStatus is 0 (down), 1 (stay) or 2 (up) and the alarm fires when it is greater than the threshold, so at 2 or above it could never fire."
  }
  validation {
    # ScaleStatus is published once a minute at standard resolution: a shorter period has no datapoint to evaluate.
    condition     = var.alarm_high.period >= 60 && var.alarm_high.period % 60 == 0
    error_message = "alarm_high.period must be a multiple of 60 seconds: ScaleStatus is published once a minute at standard (60 s) resolution."
  }
  validation {
    condition     = var.alarm_high.evaluation_periods >= 1 && (var.alarm_high.datapoints_to_alarm == null || try(var.alarm_high.datapoints_to_alarm >= 1 && var.alarm_high.datapoints_to_alarm <= var.alarm_high.evaluation_periods, false))
    error_message = "alarm_high: evaluation_periods must be >= 1 and datapoints_to_alarm between 1 and evaluation_periods."
  }
}

variable "alarm_low" {
  description = "Overrides for the <cluster>_ScaleStatus_low_<colour> alarms (ScaleStatus < threshold, i.e. 0 = scale down). evaluation_periods is also the window of the <cluster>_InstancesSurplus_<colour> alarms (evaluation_periods = datapoints_to_alarm, 60 s each)."
  type = object({
    threshold           = optional(number, 1)
    statistic           = optional(string, "Maximum")
    period              = optional(number, 60)
    evaluation_periods  = optional(number, 10)
    datapoints_to_alarm = optional(number)
  })
  default  = {}
  nullable = false

  validation {
    condition     = contains(["Maximum", "Minimum", "Average", "Sum", "SampleCount"], var.alarm_low.statistic)
    error_message = "alarm_low.statistic must be Maximum, Minimum, Average, Sum or SampleCount."
  }
  validation {
    # ScaleStatus is 0, 1 or 2 and the alarm fires on ScaleStatus < threshold: at 0 or less it never could.
    condition     = var.alarm_low.threshold > 0 && var.alarm_low.threshold <= 2
    error_message = "alarm_low.threshold must satisfy 0 < threshold <= 2: ScaleStatus is 0 (down), 1 (stay) or 2 (up) and the alarm fires when it is less than the threshold, so at 0 or below it could never fire."
  }
  validation {
    # ScaleStatus is published once a minute at standard resolution: a shorter period has no datapoint to evaluate.
    condition     = var.alarm_low.period >= 60 && var.alarm_low.period % 60 == 0
    error_message = "alarm_low.period must be a multiple of 60 seconds: ScaleStatus is published once a minute at standard (60 s) resolution."
  }
  validation {
    condition     = var.alarm_low.evaluation_periods >= 1 && (var.alarm_low.datapoints_to_alarm == null || try(var.alarm_low.datapoints_to_alarm >= 1 && var.alarm_low.datapoints_to_alarm <= var.alarm_low.evaluation_periods, false))
    error_message = "alarm_low: evaluation_periods must be >= 1 and datapoints_to_alarm between 1 and evaluation_periods."
  }
}

variable "environment" {
  description = "Environment tag (e.g. production) on the ASGs and their instances; null for none."
  type        = string
  default     = null
}

variable "team" {
  description = "Team tag on the ASGs and their instances; null for none."
  type        = string
  default     = null
}

variable "region" {
  description = "Kept for compatibility with the original interface. The provider decides the region; if set, it must match the provider's region (a guard against applying to the wrong one)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource; also propagated to the instances."
  type        = map(string)
  default     = {}
  nullable    = false
}
