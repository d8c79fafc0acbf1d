output "autoscaling_group_names" {
  description = "ASG names by colour ({ blue = ..., green = ... })."
  value       = { for colour, group in aws_autoscaling_group.this : colour => group.name }
}

output "autoscaling_group_arns" {
  description = "ASG ARNs by colour."
  value       = { for colour, group in aws_autoscaling_group.this : colour => group.arn }
}

output "launch_template_ids" {
  description = "Launch template ids by colour."
  value       = { for colour, template in aws_launch_template.this : colour => template.id }
}

output "launch_template_latest_versions" {
  description = "Latest launch template version by colour."
  value       = { for colour, template in aws_launch_template.this : colour => template.latest_version }
}

output "image_ids" {
  description = "AMI id by colour, as in each colour's launch template."
  value       = { for colour, template in aws_launch_template.this : colour => template.image_id }
}

output "lifecycle_hook_name" {
  description = "Name of the termination lifecycle hook (the same on both ASGs)."
  value       = var.lifecycle_hook_name
}

output "active_colours" {
  description = "Colours with max_size > 0."
  value       = sort(keys(local.active_colours))
}

output "scale_up_policy_arns" {
  description = "Scale-up policy ARNs by colour; only active colours have one."
  value       = { for colour, policy in aws_autoscaling_policy.scale_up : colour => policy.arn }
}

output "scale_down_policy_arns" {
  description = "Scale-down policy ARNs by colour; only active colours have one."
  value       = { for colour, policy in aws_autoscaling_policy.scale_down : colour => policy.arn }
}

output "shortfall_policy_names" {
  description = "Names of the shortfall step policies by colour (the groups' ecs-scaler:shortfall-policy tag); only active colours have one."
  value       = { for colour, policy in aws_autoscaling_policy.shortfall : colour => policy.name }
}

output "shortfall_policies" {
  description = "The shortfall step policies by colour, as applied: name, arn, policy_type, adjustment_type, metric_aggregation_type, estimated_instance_warmup and step_adjustments (a set of {lower, upper, adjustment}, bounds as numbers, null for none)."
  value = {
    for colour, policy in aws_autoscaling_policy.shortfall : colour => {
      name                      = policy.name
      arn                       = policy.arn
      policy_type               = policy.policy_type
      adjustment_type           = policy.adjustment_type
      metric_aggregation_type   = policy.metric_aggregation_type
      estimated_instance_warmup = policy.estimated_instance_warmup
      # A set, as the provider keeps them; the bounds it keeps as strings ("" for none).
      step_adjustments = toset([
        for step in policy.step_adjustment : {
          lower      = step.metric_interval_lower_bound == "" ? null : tonumber(step.metric_interval_lower_bound)
          upper      = step.metric_interval_upper_bound == "" ? null : tonumber(step.metric_interval_upper_bound)
          adjustment = step.scaling_adjustment
        }
      ])
    }
  }
}

output "surplus_policies" {
  description = "The surplus step policies (sized scale-in) by colour, as applied: name, arn, policy_type, adjustment_type, metric_aggregation_type and step_adjustments (a set of {lower, upper, adjustment}, bounds as numbers, null for none); only the serving colour has one (none mid-swap)."
  value = {
    for colour, policy in aws_autoscaling_policy.surplus : colour => {
      name                    = policy.name
      arn                     = policy.arn
      policy_type             = policy.policy_type
      adjustment_type         = policy.adjustment_type
      metric_aggregation_type = policy.metric_aggregation_type
      # A set, as the provider keeps them; the bounds it keeps as strings ("" for none).
      step_adjustments = toset([
        for step in policy.step_adjustment : {
          lower      = step.metric_interval_lower_bound == "" ? null : tonumber(step.metric_interval_lower_bound)
          upper      = step.metric_interval_upper_bound == "" ? null : tonumber(step.metric_interval_upper_bound)
          adjustment = step.scaling_adjustment
        }
      ])
    }
  }
}

output "surplus_alarms" {
  description = "The <cluster>_InstancesSurplus_<colour> alarms by colour, as applied: alarm_name, arn, the condition (comparison_operator, threshold, statistic, period, evaluation_periods, datapoints_to_alarm, treat_missing_data), the metric (namespace, metric_name, dimensions) and alarm_actions, the surplus policy each calls. Empty when autoscale_enabled is false."
  value = {
    for colour, alarm in aws_cloudwatch_metric_alarm.surplus : colour => {
      alarm_name          = alarm.alarm_name
      arn                 = alarm.arn
      comparison_operator = alarm.comparison_operator
      threshold           = alarm.threshold
      statistic           = alarm.statistic
      period              = alarm.period
      evaluation_periods  = alarm.evaluation_periods
      datapoints_to_alarm = alarm.datapoints_to_alarm
      treat_missing_data  = alarm.treat_missing_data
      namespace           = alarm.namespace
      metric_name         = alarm.metric_name
      dimensions          = alarm.dimensions
      alarm_actions       = alarm.alarm_actions
    }
  }
}

output "termination_policies" {
  description = "Each group's termination_policies by colour, as applied; null where termination_policy_arn is unset."
  value       = { for colour, group in aws_autoscaling_group.this : colour => group.termination_policies }
}

output "scale_status_high_alarm_arns" {
  description = "ARNs of the <cluster>_ScaleStatus_high_<colour> alarms by colour (empty when autoscale_enabled is false)."
  value       = { for colour, alarm in aws_cloudwatch_metric_alarm.high : colour => alarm.arn }
}

output "scale_status_low_alarm_arns" {
  description = "ARNs of the <cluster>_ScaleStatus_low_<colour> alarms by colour (empty when autoscale_enabled is false)."
  value       = { for colour, alarm in aws_cloudwatch_metric_alarm.low : colour => alarm.arn }
}

output "lifecycle_hooks" {
  description = "The termination lifecycle hooks by colour, as applied: name, heartbeat_timeout, default_result and notification_metadata (JSON)."
  value = {
    for colour, hook in aws_autoscaling_lifecycle_hook.drain : colour => {
      name                  = hook.name
      heartbeat_timeout     = hook.heartbeat_timeout
      default_result        = hook.default_result
      notification_metadata = hook.notification_metadata
    }
  }
}

output "scale_status_alarms" {
  description = "The ScaleStatus alarms by colour, { high = ..., low = ... }, as applied: alarm_name, arn, the condition (comparison_operator, threshold, statistic, period, evaluation_periods, datapoints_to_alarm), the metric (namespace, metric_name, dimensions) and alarm_actions, the scaling policy each calls. Empty when autoscale_enabled is false."
  value = {
    for colour in keys(aws_cloudwatch_metric_alarm.high) : colour => {
      for level, alarms in local.scale_status_alarms : level => {
        alarm_name          = alarms[colour].alarm_name
        arn                 = alarms[colour].arn
        comparison_operator = alarms[colour].comparison_operator
        threshold           = alarms[colour].threshold
        statistic           = alarms[colour].statistic
        period              = alarms[colour].period
        evaluation_periods  = alarms[colour].evaluation_periods
        datapoints_to_alarm = alarms[colour].datapoints_to_alarm
        namespace           = alarms[colour].namespace
        metric_name         = alarms[colour].metric_name
        dimensions          = alarms[colour].dimensions
        alarm_actions       = alarms[colour].alarm_actions
      }
    }
  }
}
