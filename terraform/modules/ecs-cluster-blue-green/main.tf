data "aws_region" "current" {}

locals {
  colours = var.colours

  # A colour with max_size = 0 is idle: it has its group, launch template and lifecycle hook (so it can be
  # brought up by changing sizes alone), but no scaling policies or alarms, which could only ever act on nothing.
  active_colours = { for colour, spec in local.colours : colour => spec if spec.max_size > 0 }
  alarm_colours  = var.autoscale_enabled ? local.active_colours : {}
  # The serving colour: the only active one, or the active one with the larger min_size (a swap raises the new
  # colour's min; the teardown sets the old one's to 0). On a tie (mid-swap) none serves: no sized scale-in acts
  # while two colours run (scale-status holds its ScaleStatus at 1 then too, reason swap_in_progress).
  active_mins = [for colour, spec in local.active_colours : spec.min_size]
  serving_colours = {
    for colour, spec in local.active_colours : colour => spec
    if length(local.active_colours) == 1 || (spec.min_size == max(local.active_mins...) && length([for m in local.active_mins : m if m == spec.min_size]) == 1)
  }

  base_tags = merge(
    var.tags,
    var.environment == null ? {} : { Environment = var.environment },
    var.team == null ? {} : { Team = var.team },
    { "ecs-scaler:cluster" = var.cluster_name },
  )

  ecs_config = merge(
    {
      ECS_CLUSTER                           = var.cluster_name
      ECS_IMAGE_CLEANUP_INTERVAL            = var.ecs_agent_config.image_cleanup_interval
      ECS_IMAGE_MINIMUM_CLEANUP_AGE         = var.ecs_agent_config.image_minimum_cleanup_age
      ECS_NUM_IMAGES_DELETE_PER_CYCLE       = tostring(var.ecs_agent_config.num_images_delete_per_cycle)
      ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION = var.ecs_agent_config.engine_task_cleanup_wait_duration
    },
    var.ecs_config_extra,
  )

  user_data = templatefile("${path.module}/templates/user-data.sh.tftpl", {
    ecs_config = local.ecs_config
  })

  instance_profile_is_arn = startswith(var.iam_instance_profile, "arn:")

  # The ScaleStatus alarms by level, for the scale_status_alarms output.
  scale_status_alarms = {
    high = aws_cloudwatch_metric_alarm.high
    low  = aws_cloudwatch_metric_alarm.low
  }

  # Sized scale-out: scale-status asks the serving group's step policy with ExecutePolicy (MetricValue = the
  # instances its waiting tasks need, BreachThreshold = 0), and finds it by the group's ecs-scaler:shortfall-policy
  # tag. Like the simple policies, only active colours have the policy; only groups the ScaleStatus alarms drive
  # carry the tag, so autoscale_enabled = false stops sized scale-out as well. The name is built, not read from
  # the policy: the policy depends on the group, so the group's tag cannot depend on the policy.
  shortfall_policy_names = { for colour in keys(local.colours) : colour => "${var.cluster_name}-shortfall-${colour}" }
  shortfall_tagged       = toset(keys(local.alarm_colours))
  # {lower, upper (null = none), adjustment}, relative to the breach threshold 0. Shared with the Rust code, whose
  # test checks this file against its table: change both together.
  shortfall_steps = jsondecode(file("${path.module}/shortfall-steps.json"))

  # Sized scale-in: {lower, upper (null = none), adjustment (negative)}, relative to the surplus alarm's threshold
  # of 2, so a surplus of s removes s - 1 (the ScaleStatus low alarm removes the other one). Shared with the Rust
  # code like the shortfall table: its test checks this file.
  surplus_steps           = jsondecode(file("${path.module}/surplus-steps.json"))
  surplus_alarm_threshold = 2

  # A custom termination policy must come first (AWS); the named ones only break ties among what it returns.
  termination_policies = var.termination_policy_arn == null ? null : [var.termination_policy_arn, "OldestLaunchTemplate", "Default"]

  scale_up_in_percent = var.scale_up.adjustment_type == "PercentChangeInCapacity"
  scale_up_step       = local.scale_up_in_percent ? "${var.scale_up.adjustment}% (at least ${var.scale_up.min_adjustment_magnitude})" : tostring(var.scale_up.adjustment)
}

resource "aws_launch_template" "this" {
  for_each = local.colours

  name                   = "${var.cluster_name}-${each.key}"
  description            = "ECS container instances of ${var.cluster_name} (${each.key})"
  image_id               = each.value.image_id
  instance_type          = each.value.instance_type
  key_name               = var.key_name
  vpc_security_group_ids = var.security_group_ids
  user_data              = base64encode(local.user_data)
  update_default_version = true

  iam_instance_profile {
    name = local.instance_profile_is_arn ? null : var.iam_instance_profile
    arn  = local.instance_profile_is_arn ? var.iam_instance_profile : null
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = var.metadata_http_put_response_hop_limit
    instance_metadata_tags      = "disabled"
  }

  block_device_mappings {
    device_name = var.root_device_name

    ebs {
      volume_size           = var.root_volume_size
      volume_type           = var.root_volume_type
      encrypted             = true
      kms_key_id            = var.root_volume_kms_key_id
      delete_on_termination = true
    }
  }

  tag_specifications {
    resource_type = "volume"
    tags          = merge(local.base_tags, { "ecs-scaler:colour" = each.key })
  }

  tags = merge(local.base_tags, { "ecs-scaler:colour" = each.key })
}

resource "aws_autoscaling_group" "this" {
  for_each = local.colours

  name                = "${var.cluster_name}-${each.key}"
  vpc_zone_identifier = length(var.subnet_ids) > 0 ? var.subnet_ids : null
  availability_zones  = length(var.subnet_ids) > 0 ? null : var.availability_zones

  min_size = each.value.min_size
  max_size = each.value.max_size
  # Only used when the group is created; see lifecycle below.
  desired_capacity = coalesce(each.value.desired_capacity, each.value.min_size)

  health_check_type = "EC2"
  # On destroy, scale the group to 0 and wait for it to empty instead of deleting it with instances inside.
  force_delete = false
  # The drain hook's function chooses which instances a scale-in removes (null: Auto Scaling's default policy).
  termination_policies = local.termination_policies

  launch_template {
    id      = aws_launch_template.this[each.key].id
    version = aws_launch_template.this[each.key].latest_version
  }

  enabled_metrics = [
    "GroupDesiredCapacity",
    "GroupInServiceInstances",
    "GroupMaxSize",
    "GroupMinSize",
    "GroupPendingInstances",
    "GroupStandbyInstances",
    "GroupTerminatingInstances",
    "GroupTotalInstances",
  ]
  metrics_granularity = "1Minute"

  dynamic "tag" {
    for_each = merge(local.base_tags, {
      Name                = "${var.cluster_name}-${each.key}"
      "ecs-scaler:colour" = each.key
    })

    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = true
    }
  }

  # The group's own tag, for scale-status only: instances need not carry it.
  dynamic "tag" {
    for_each = contains(local.shortfall_tagged, each.key) ? { "ecs-scaler:shortfall-policy" = local.shortfall_policy_names[each.key] } : {}

    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = false
    }
  }

  lifecycle {
    # The ScaleStatus alarms own the desired capacity once the group exists: an apply must not undo what they
    # did. Sizes are driven through min_size/max_size instead; Auto Scaling itself raises desired capacity to a
    # new min_size and lowers it to a new max_size, which is what bringing a colour up or down needs.
    ignore_changes = [desired_capacity]

    precondition {
      condition     = var.region == null || var.region == data.aws_region.current.id
      error_message = "var.region (${coalesce(var.region, "unset")}) does not match the provider's region (${data.aws_region.current.id})."
    }
    precondition {
      condition     = length(var.subnet_ids) > 0 || length(var.availability_zones) > 0
      error_message = "Set subnet_ids (or, for the default VPC, availability_zones)."
    }
  }
}

resource "aws_autoscaling_lifecycle_hook" "drain" {
  for_each = local.colours

  name                    = var.lifecycle_hook_name
  autoscaling_group_name  = aws_autoscaling_group.this[each.key].name
  lifecycle_transition    = "autoscaling:EC2_INSTANCE_TERMINATING"
  notification_target_arn = var.drain_hook_notification_target_arn
  role_arn                = var.drain_hook_role_arn
  notification_metadata   = jsonencode({ cluster = var.cluster_name })
  # If the drain Lambda stops heartbeating (it is gone, or broken), the instance still terminates.
  default_result    = "CONTINUE"
  heartbeat_timeout = var.lifecycle_hook_heartbeat_timeout
}

resource "aws_autoscaling_policy" "scale_up" {
  for_each = local.active_colours

  name                   = "${var.cluster_name}-${each.key}-scale-up"
  autoscaling_group_name = aws_autoscaling_group.this[each.key].name
  policy_type            = "SimpleScaling"
  # ScaleStatus says "scale up", not by how much. A step in percent of the group makes absorbing a doubling
  # take a handful of steps at any size; a fixed +2 takes five times longer at 50 instances than at 10.
  adjustment_type          = var.scale_up.adjustment_type
  scaling_adjustment       = var.scale_up.adjustment
  min_adjustment_magnitude = local.scale_up_in_percent ? var.scale_up.min_adjustment_magnitude : null
  cooldown                 = var.scale_up.cooldown
}

resource "aws_autoscaling_policy" "scale_down" {
  for_each = local.active_colours

  name                   = "${var.cluster_name}-${each.key}-scale-down"
  autoscaling_group_name = aws_autoscaling_group.this[each.key].name
  policy_type            = "SimpleScaling"
  adjustment_type        = "ChangeInCapacity"
  # Always exactly one instance, deliberately not configurable: the controller's scale-down guard checks that
  # the cluster still fits without one instance, which says nothing about removing two at once.
  scaling_adjustment = -1
  cooldown           = var.scale_down.cooldown
}

# Sized scale-out, executed by scale-status (never by an alarm) with MetricValue = the instances the cluster's
# waiting tasks need and BreachThreshold = 0: the step [lower, upper) holding that number adds its adjustment.
# Instances a step launched count as warming for estimated_instance_warmup, and Auto Scaling subtracts them from
# the next execution's adjustment: asking again for the same waiting tasks (the next tick, a placement-failure
# event) adds nothing, and a larger shortfall adds only the difference. Step policies have no cooldown.
resource "aws_autoscaling_policy" "shortfall" {
  for_each = local.active_colours

  name                      = local.shortfall_policy_names[each.key]
  autoscaling_group_name    = aws_autoscaling_group.this[each.key].name
  policy_type               = "StepScaling"
  adjustment_type           = "ChangeInCapacity"
  metric_aggregation_type   = "Maximum"
  estimated_instance_warmup = var.shortfall_warmup_seconds

  dynamic "step_adjustment" {
    for_each = local.shortfall_steps

    content {
      metric_interval_lower_bound = step_adjustment.value.lower
      metric_interval_upper_bound = step_adjustment.value.upper
      scaling_adjustment          = step_adjustment.value.adjustment
    }
  }
}

# Sized scale-in, run by the <cluster>_InstancesSurplus_<colour> alarm below: with InstancesSurplus = s over the
# whole window the alarm's breach is s - 2 (threshold 2), and the step [lower, upper) holding it removes s - 1.
# The ScaleStatus low alarm, in ALARM over the same window whenever there is a surplus, removes the other one.
# It exists for the serving colour only (see serving_colours), also with autoscale_enabled = false (no alarm then):
# mid-swap the new colour's instances are the operator's, and the old colour's go by its teardown, not a batch.
resource "aws_autoscaling_policy" "surplus" {
  for_each = local.serving_colours

  name                    = "${var.cluster_name}-surplus-${each.key}"
  autoscaling_group_name  = aws_autoscaling_group.this[each.key].name
  policy_type             = "StepScaling"
  adjustment_type         = "ChangeInCapacity"
  metric_aggregation_type = "Minimum"

  dynamic "step_adjustment" {
    for_each = local.surplus_steps

    content {
      metric_interval_lower_bound = step_adjustment.value.lower
      metric_interval_upper_bound = step_adjustment.value.upper
      scaling_adjustment          = step_adjustment.value.adjustment
    }
  }
}

# The scale-status Lambda publishes ScaleStatus 0 (scale down), 1 (stay) or 2 (scale up) every minute.
# Missing data is treated as missing, not as breaching or OK: the controller deliberately emits nothing when it
# is unsure (stale reservation metrics, a cluster it cannot read), and silence must never move capacity.
resource "aws_cloudwatch_metric_alarm" "high" {
  for_each = local.alarm_colours

  alarm_name          = "${var.cluster_name}_ScaleStatus_high_${each.key}"
  alarm_description   = "ScaleStatus of ${var.cluster_name} says scale up: add ${local.scale_up_step} ${each.key} instance(s)."
  namespace           = var.metric_namespace
  metric_name         = "ScaleStatus"
  dimensions          = { ClusterName = var.cluster_name }
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarm_high.threshold
  statistic           = var.alarm_high.statistic
  period              = var.alarm_high.period
  evaluation_periods  = var.alarm_high.evaluation_periods
  datapoints_to_alarm = var.alarm_high.datapoints_to_alarm
  treat_missing_data  = "missing"
  alarm_actions       = [aws_autoscaling_policy.scale_up[each.key].arn]
  tags                = merge(local.base_tags, { "ecs-scaler:colour" = each.key })
}

resource "aws_cloudwatch_metric_alarm" "low" {
  for_each = local.alarm_colours

  alarm_name          = "${var.cluster_name}_ScaleStatus_low_${each.key}"
  alarm_description   = "ScaleStatus of ${var.cluster_name} says scale down: remove one ${each.key} instance."
  namespace           = var.metric_namespace
  metric_name         = "ScaleStatus"
  dimensions          = { ClusterName = var.cluster_name }
  comparison_operator = "LessThanThreshold"
  threshold           = var.alarm_low.threshold
  statistic           = var.alarm_low.statistic
  period              = var.alarm_low.period
  evaluation_periods  = var.alarm_low.evaluation_periods
  datapoints_to_alarm = var.alarm_low.datapoints_to_alarm
  treat_missing_data  = "missing"
  alarm_actions       = [aws_autoscaling_policy.scale_down[each.key].arn]
  tags                = merge(local.base_tags, { "ecs-scaler:colour" = each.key })
}

# scale-status publishes InstancesSurplus, the ACTIVE instances that could go at once, and 0 while any instance
# drains or the groups are scaling. The Minimum over every minute of the low alarm's window (the "consolidate
# after" window) is a surplus that held all along, never a one-minute dip. Missing data does not breach: silence
# must never remove capacity.
resource "aws_cloudwatch_metric_alarm" "surplus" {
  for_each = var.autoscale_enabled ? local.serving_colours : {}

  alarm_name          = "${var.cluster_name}_InstancesSurplus_${each.key}"
  alarm_description   = "InstancesSurplus of ${var.cluster_name} has been at least ${local.surplus_alarm_threshold} for ${var.alarm_low.evaluation_periods} minute(s): remove all but one of the surplus ${each.key} instances (the ScaleStatus low alarm removes the last)."
  namespace           = var.metric_namespace
  metric_name         = "InstancesSurplus"
  dimensions          = { ClusterName = var.cluster_name }
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = local.surplus_alarm_threshold
  statistic           = "Minimum"
  period              = var.alarm_low.period
  evaluation_periods  = var.alarm_low.evaluation_periods
  datapoints_to_alarm = var.alarm_low.evaluation_periods
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_autoscaling_policy.surplus[each.key].arn]
  tags                = merge(local.base_tags, { "ecs-scaler:colour" = each.key })
}

# desired_capacity only sizes a group when it is created (ignore_changes above), so setting it later silently
# does nothing. The mistake that hurts is bringing an idle colour up with desired_capacity alone: these checks
# warn, without failing the plan or apply, when a colour's desired_capacity asks for instances but its group
# will run none. A running group whose size differs from desired_capacity is the alarms at work, and no warning.
# They read the group's own desired_capacity: refreshed from AWS before every plan and kept by ignore_changes,
# it is the group's current desired capacity, known at plan time (a data source would be unknown until apply
# whenever the group is created or changed). Auto Scaling keeps desired capacity within min_size and max_size,
# so the comparison clamps it to the new sizes. One check per colour: check blocks cannot use for_each.
check "blue_desired_capacity_is_applied" {
  assert {
    condition     = coalesce(var.colours["blue"].desired_capacity, 0) == 0 || min(max(aws_autoscaling_group.this["blue"].desired_capacity, var.colours["blue"].min_size), var.colours["blue"].max_size) > 0
    error_message = "colours.blue.desired_capacity = ${coalesce(var.colours["blue"].desired_capacity, 0)}, but the group ${aws_autoscaling_group.this["blue"].name} will run no instance, and Terraform will not change that: desired_capacity only sizes a group when it is created. To bring blue up, raise min_size (Auto Scaling raises the desired capacity to it)."
  }
}

check "green_desired_capacity_is_applied" {
  assert {
    condition     = coalesce(var.colours["green"].desired_capacity, 0) == 0 || min(max(aws_autoscaling_group.this["green"].desired_capacity, var.colours["green"].min_size), var.colours["green"].max_size) > 0
    error_message = "colours.green.desired_capacity = ${coalesce(var.colours["green"].desired_capacity, 0)}, but the group ${aws_autoscaling_group.this["green"].name} will run no instance, and Terraform will not change that: desired_capacity only sizes a group when it is created. To bring green up, raise min_size (Auto Scaling raises the desired capacity to it)."
  }
}
