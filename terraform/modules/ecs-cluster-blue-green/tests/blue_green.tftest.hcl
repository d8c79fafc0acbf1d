mock_provider "aws" {
  mock_data "aws_region" {
    defaults = {
      id   = "us-east-1"
      name = "us-east-1"
    }
  }

  # The provider validates ids even when mocked.
  mock_resource "aws_launch_template" {
    defaults = {
      id = "lt-0123456789abcdef0"
    }
  }
}

variables {
  cluster_name                       = "default"
  environment                        = "production"
  team                               = "devops"
  region                             = "us-east-1"
  iam_instance_profile               = "ecs-instance"
  security_group_ids                 = ["sg-0123456789abcdef0"]
  subnet_ids                         = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
  drain_hook_notification_target_arn = "arn:aws:sns:us-east-1:123456789012:ecs-scaler-drain-hook"
  drain_hook_role_arn                = "arn:aws:iam::123456789012:role/ecs-scaler-drain-hook-asg"
  autoscale_enabled                  = true
  root_volume_size                   = 50

  colours = {
    blue  = { image_id = "ami-5ac76b27", instance_type = "c4.2xlarge", min_size = 2, max_size = 15, desired_capacity = 5 }
    green = { image_id = "ami-c868b6b5", instance_type = "c3.2xlarge", min_size = 0, max_size = 0, desired_capacity = 0 }
  }
}

run "both_colours_get_a_group_a_launch_template_and_a_drain_hook" {
  command = plan

  assert {
    condition     = keys(aws_autoscaling_group.this) == ["blue", "green"] && keys(aws_launch_template.this) == ["blue", "green"]
    error_message = "Expected an ASG and a launch template per colour."
  }
  assert {
    condition     = aws_autoscaling_group.this["blue"].name == "default-blue" && aws_autoscaling_group.this["green"].name == "default-green"
    error_message = "ASGs must be named <cluster>-<colour>."
  }
  assert {
    condition     = aws_autoscaling_group.this["blue"].min_size == 2 && aws_autoscaling_group.this["blue"].max_size == 15 && aws_autoscaling_group.this["blue"].desired_capacity == 5
    error_message = "Blue must be created with its sizes."
  }
  assert {
    condition     = aws_autoscaling_group.this["green"].max_size == 0 && aws_autoscaling_group.this["green"].desired_capacity == 0
    error_message = "Green must be idle."
  }
  assert {
    condition = alltrue([
      for hook in values(aws_autoscaling_lifecycle_hook.drain) :
      hook.lifecycle_transition == "autoscaling:EC2_INSTANCE_TERMINATING" &&
      hook.default_result == "CONTINUE" &&
      hook.heartbeat_timeout == 300 &&
      hook.name == "ecs-scaler-drain" &&
      hook.notification_target_arn == var.drain_hook_notification_target_arn &&
      hook.role_arn == var.drain_hook_role_arn &&
      jsondecode(hook.notification_metadata) == { cluster = "default" }
    ])
    error_message = "Each colour needs the termination hook that notifies the drain hook with the cluster in its metadata."
  }
  assert {
    condition     = keys(aws_autoscaling_lifecycle_hook.drain) == ["blue", "green"]
    error_message = "The idle colour needs its hook too, so it is protected the moment it is brought up."
  }
}

run "an_idle_colour_has_no_policies_or_alarms" {
  command = plan

  assert {
    condition     = keys(aws_autoscaling_policy.scale_up) == ["blue"] && keys(aws_autoscaling_policy.scale_down) == ["blue"]
    error_message = "Only the active colour gets scaling policies."
  }
  assert {
    condition     = keys(aws_cloudwatch_metric_alarm.high) == ["blue"] && keys(aws_cloudwatch_metric_alarm.low) == ["blue"]
    error_message = "Only the active colour gets ScaleStatus alarms."
  }
  assert {
    condition     = output.active_colours == tolist(["blue"])
    error_message = "active_colours must list blue only."
  }
  assert {
    condition     = keys(aws_autoscaling_policy.shortfall) == ["blue"] && length([for tag in aws_autoscaling_group.this["green"].tag : tag if tag.key == "ecs-scaler:shortfall-policy"]) == 0
    error_message = "Only the active colour gets a shortfall step policy and the tag that names it."
  }
  assert {
    condition     = keys(aws_autoscaling_policy.surplus) == ["blue"] && keys(aws_cloudwatch_metric_alarm.surplus) == ["blue"]
    error_message = "Only the active colour gets a surplus step policy and its InstancesSurplus alarm."
  }
}

run "the_shortfall_step_policy_follows_the_shared_table" {
  command = plan

  assert {
    condition = (
      aws_autoscaling_policy.shortfall["blue"].name == "default-shortfall-blue" &&
      aws_autoscaling_policy.shortfall["blue"].autoscaling_group_name == "default-blue" &&
      aws_autoscaling_policy.shortfall["blue"].policy_type == "StepScaling" &&
      aws_autoscaling_policy.shortfall["blue"].adjustment_type == "ChangeInCapacity" &&
      aws_autoscaling_policy.shortfall["blue"].metric_aggregation_type == "Maximum" &&
      aws_autoscaling_policy.shortfall["blue"].estimated_instance_warmup == 300
    )
    error_message = "The shortfall policy: default-shortfall-blue, StepScaling, ChangeInCapacity, Maximum, 300 s warm-up."
  }
  assert {
    # The provider keeps the bounds as strings.
    condition = toset([
      for step in aws_autoscaling_policy.shortfall["blue"].step_adjustment : {
        lower      = tonumber(step.metric_interval_lower_bound)
        upper      = step.metric_interval_upper_bound == null ? null : tonumber(step.metric_interval_upper_bound)
        adjustment = step.scaling_adjustment
      }
    ]) == toset(jsondecode(file("shortfall-steps.json"))) && length(aws_autoscaling_policy.shortfall["blue"].step_adjustment) == 20
    error_message = "The steps must be shortfall-steps.json's 20, as the Rust code's table. Got ${jsonencode(aws_autoscaling_policy.shortfall["blue"].step_adjustment)}"
  }
  assert {
    condition = [
      for tag in aws_autoscaling_group.this["blue"].tag : tag if tag.key == "ecs-scaler:shortfall-policy"
    ] == [{ key = "ecs-scaler:shortfall-policy", value = "default-shortfall-blue", propagate_at_launch = false }]
    error_message = "The group names its shortfall policy in a tag of its own, not propagated to the instances."
  }
}

run "the_surplus_step_policy_follows_the_shared_table" {
  command = plan

  assert {
    condition = (
      aws_autoscaling_policy.surplus["blue"].name == "default-surplus-blue" &&
      aws_autoscaling_policy.surplus["blue"].autoscaling_group_name == "default-blue" &&
      aws_autoscaling_policy.surplus["blue"].policy_type == "StepScaling" &&
      aws_autoscaling_policy.surplus["blue"].adjustment_type == "ChangeInCapacity" &&
      aws_autoscaling_policy.surplus["blue"].metric_aggregation_type == "Minimum"
    )
    error_message = "The surplus policy: default-surplus-blue on default-blue, StepScaling, ChangeInCapacity, Minimum."
  }
  assert {
    # The provider keeps the bounds as strings.
    condition = toset([
      for step in aws_autoscaling_policy.surplus["blue"].step_adjustment : {
        lower      = tonumber(step.metric_interval_lower_bound)
        upper      = step.metric_interval_upper_bound == null ? null : tonumber(step.metric_interval_upper_bound)
        adjustment = step.scaling_adjustment
      }
    ]) == toset(jsondecode(file("surplus-steps.json"))) && length(aws_autoscaling_policy.surplus["blue"].step_adjustment) == 20
    error_message = "The steps must be surplus-steps.json's 20, as the Rust code's table. Got ${jsonencode(aws_autoscaling_policy.surplus["blue"].step_adjustment)}"
  }
  assert {
    # A surplus s is a breach of s - 2 over the threshold 2: the step holding it removes s - 1, 20 at most.
    condition = [
      for surplus in [2, 3, 5, 21, 40] : one([
        for step in aws_autoscaling_policy.surplus["blue"].step_adjustment : step.scaling_adjustment
        if surplus - 2 >= tonumber(step.metric_interval_lower_bound) && (step.metric_interval_upper_bound == null || surplus - 2 < tonumber(coalesce(step.metric_interval_upper_bound, "0")))
      ])
    ] == [-1, -2, -4, -20, -20]
    error_message = "A surplus of s must remove s - 1 (the ScaleStatus low alarm removes the other), at most 20."
  }
}

run "the_surplus_alarm_has_the_documented_shape" {
  command = plan

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.surplus["blue"].alarm_name == "default_InstancesSurplus_blue" &&
      aws_cloudwatch_metric_alarm.surplus["blue"].namespace == "Curalate/AutoScaling" &&
      aws_cloudwatch_metric_alarm.surplus["blue"].metric_name == "InstancesSurplus" &&
      aws_cloudwatch_metric_alarm.surplus["blue"].dimensions == tomap({ ClusterName = "default" }) &&
      aws_cloudwatch_metric_alarm.surplus["blue"].comparison_operator == "GreaterThanOrEqualToThreshold" &&
      aws_cloudwatch_metric_alarm.surplus["blue"].threshold == 2 &&
      aws_cloudwatch_metric_alarm.surplus["blue"].statistic == "Minimum" &&
      aws_cloudwatch_metric_alarm.surplus["blue"].period == 60 &&
      aws_cloudwatch_metric_alarm.surplus["blue"].evaluation_periods == 10 &&
      aws_cloudwatch_metric_alarm.surplus["blue"].datapoints_to_alarm == 10 &&
      aws_cloudwatch_metric_alarm.surplus["blue"].treat_missing_data == "notBreaching"
    )
    error_message = "Surplus alarm: Curalate/AutoScaling InstancesSurplus ClusterName=default, Minimum >= 2, 60 s x 10 of 10, missing not breaching."
  }
}

run "the_surplus_alarm_follows_the_low_alarms_window" {
  command = plan

  variables {
    alarm_low        = { evaluation_periods = 15, datapoints_to_alarm = 12, period = 120 }
    metric_namespace = "Acme/Scaling"
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.surplus["blue"].evaluation_periods == 15 && aws_cloudwatch_metric_alarm.surplus["blue"].datapoints_to_alarm == 15 && aws_cloudwatch_metric_alarm.surplus["blue"].period == 120
    error_message = "The surplus alarm needs every datapoint of the low alarm's evaluation periods (the consolidate-after window)."
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.surplus["blue"].namespace == "Acme/Scaling"
    error_message = "metric_namespace must reach the surplus alarm."
  }
}

run "a_shortfall_warmup_may_be_set" {
  command = plan

  variables {
    shortfall_warmup_seconds = 120
  }

  assert {
    condition     = aws_autoscaling_policy.shortfall["blue"].estimated_instance_warmup == 120
    error_message = "shortfall_warmup_seconds is the policy's estimated_instance_warmup."
  }
}

run "a_shortfall_warmup_above_an_hour_is_rejected" {
  command = plan

  variables {
    shortfall_warmup_seconds = 3601
  }

  expect_failures = [var.shortfall_warmup_seconds]
}

run "a_negative_shortfall_warmup_is_rejected" {
  command = plan

  variables {
    shortfall_warmup_seconds = -1
  }

  expect_failures = [var.shortfall_warmup_seconds]
}

run "without_a_termination_function_the_groups_keep_the_default_policy" {
  command = plan

  assert {
    condition     = alltrue([for group in values(aws_autoscaling_group.this) : group.termination_policies == null])
    error_message = "termination_policy_arn unset leaves termination_policies unset."
  }
}

run "a_termination_function_comes_first_in_both_groups" {
  command = plan

  variables {
    termination_policy_arn = "arn:aws:lambda:us-east-1:123456789012:function:ecs-scaler-drain-hook"
  }

  assert {
    condition = alltrue([
      for group in values(aws_autoscaling_group.this) :
      group.termination_policies == tolist(["arn:aws:lambda:us-east-1:123456789012:function:ecs-scaler-drain-hook", "OldestLaunchTemplate", "Default"])
    ])
    error_message = "Each group lists the function first (AWS requires it), then OldestLaunchTemplate and Default."
  }
}

run "a_latest_qualified_termination_function_is_rejected" {
  command = plan

  variables {
    termination_policy_arn = "arn:aws:lambda:us-east-1:123456789012:function:ecs-scaler-drain-hook:$LATEST"
  }

  expect_failures = [var.termination_policy_arn]
}

run "a_termination_policy_that_is_not_a_function_is_rejected" {
  command = plan

  variables {
    termination_policy_arn = "OldestInstance"
  }

  expect_failures = [var.termination_policy_arn]
}

run "alarms_drive_the_policies_of_their_own_colour" {
  command = apply

  variables {
    colours = {
      blue  = { image_id = "ami-5ac76b27", instance_type = "c4.2xlarge", min_size = 2, max_size = 15, desired_capacity = 5 }
      green = { image_id = "ami-0aae19d30bab785d3", instance_type = "c5.2xlarge", min_size = 5, max_size = 15 }
    }
  }

  # An ARN per colour and policy, so an alarm wired to the other colour's policy fails the assertion below.
  override_resource {
    target = aws_autoscaling_policy.scale_up["blue"]
    values = { arn = "arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:11111111-1111-1111-1111-111111111111:autoScalingGroupName/default-blue:policyName/default-blue-scale-up" }
  }
  override_resource {
    target = aws_autoscaling_policy.scale_down["blue"]
    values = { arn = "arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:22222222-2222-2222-2222-222222222222:autoScalingGroupName/default-blue:policyName/default-blue-scale-down" }
  }
  override_resource {
    target = aws_autoscaling_policy.scale_up["green"]
    values = { arn = "arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:33333333-3333-3333-3333-333333333333:autoScalingGroupName/default-green:policyName/default-green-scale-up" }
  }
  override_resource {
    target = aws_autoscaling_policy.scale_down["green"]
    values = { arn = "arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:44444444-4444-4444-4444-444444444444:autoScalingGroupName/default-green:policyName/default-green-scale-down" }
  }
  override_resource {
    target = aws_autoscaling_policy.surplus["green"]
    values = { arn = "arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:66666666-6666-6666-6666-666666666666:autoScalingGroupName/default-green:policyName/default-surplus-green" }
  }

  assert {
    condition = alltrue([
      for colour in ["blue", "green"] :
      aws_cloudwatch_metric_alarm.high[colour].alarm_actions == toset([aws_autoscaling_policy.scale_up[colour].arn]) &&
      aws_cloudwatch_metric_alarm.low[colour].alarm_actions == toset([aws_autoscaling_policy.scale_down[colour].arn])
    ])
    error_message = "Each colour's high alarm must trigger its scale-up policy and its low alarm its scale-down policy."
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.high["green"].alarm_actions == toset(["arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:33333333-3333-3333-3333-333333333333:autoScalingGroupName/default-green:policyName/default-green-scale-up"])
    error_message = "Green's high alarm must call green's scale-up policy."
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.surplus["green"].alarm_actions == toset(["arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:66666666-6666-6666-6666-666666666666:autoScalingGroupName/default-green:policyName/default-surplus-green"])
    error_message = "The serving colour's InstancesSurplus alarm must call its own surplus policy."
  }
  assert {
    condition     = keys(aws_autoscaling_policy.surplus) == ["green"] && keys(aws_cloudwatch_metric_alarm.surplus) == ["green"] && aws_autoscaling_policy.surplus["green"].autoscaling_group_name == "default-green"
    error_message = "Only the serving colour (green, the larger min_size) gets the surplus policy and alarm, on its own group."
  }
  assert {
    condition = (
      keys(output.surplus_alarms) == ["green"] &&
      output.surplus_alarms["green"].alarm_actions == toset([output.surplus_policies["green"].arn]) &&
      output.surplus_policies["green"].step_adjustments == toset(jsondecode(file("surplus-steps.json")))
    )
    error_message = "The surplus outputs must carry the serving colour's alarm, its action and the policy's steps."
  }
  assert {
    condition     = aws_autoscaling_policy.scale_up["green"].autoscaling_group_name == "default-green" && aws_autoscaling_policy.scale_down["blue"].autoscaling_group_name == "default-blue"
    error_message = "Policies must act on their own colour's group."
  }
  assert {
    condition     = aws_autoscaling_group.this["green"].desired_capacity == 5
    error_message = "desired_capacity defaults to min_size."
  }
}

run "scale_status_alarms_have_the_documented_shape" {
  command = plan

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.high["blue"].alarm_name == "default_ScaleStatus_high_blue" &&
      aws_cloudwatch_metric_alarm.high["blue"].comparison_operator == "GreaterThanThreshold" &&
      aws_cloudwatch_metric_alarm.high["blue"].threshold == 1 &&
      aws_cloudwatch_metric_alarm.high["blue"].statistic == "Maximum" &&
      aws_cloudwatch_metric_alarm.high["blue"].period == 60 &&
      aws_cloudwatch_metric_alarm.high["blue"].evaluation_periods == 4
    )
    error_message = "High alarm: ScaleStatus > 1, Maximum, 60 s x 4."
  }
  assert {
    condition = (
      aws_cloudwatch_metric_alarm.low["blue"].alarm_name == "default_ScaleStatus_low_blue" &&
      aws_cloudwatch_metric_alarm.low["blue"].comparison_operator == "LessThanThreshold" &&
      aws_cloudwatch_metric_alarm.low["blue"].threshold == 1 &&
      aws_cloudwatch_metric_alarm.low["blue"].statistic == "Maximum" &&
      aws_cloudwatch_metric_alarm.low["blue"].period == 60 &&
      aws_cloudwatch_metric_alarm.low["blue"].evaluation_periods == 10
    )
    error_message = "Low alarm: ScaleStatus < 1, Maximum, 60 s x 10."
  }
  assert {
    condition = alltrue([
      for alarm in concat(values(aws_cloudwatch_metric_alarm.high), values(aws_cloudwatch_metric_alarm.low)) :
      alarm.namespace == "Curalate/AutoScaling" && alarm.metric_name == "ScaleStatus" &&
      alarm.dimensions == tomap({ ClusterName = "default" }) && alarm.treat_missing_data == "missing"
    ])
    error_message = "Alarms read Curalate/AutoScaling ScaleStatus for ClusterName=default and treat missing data as missing."
  }
}

run "scale_down_removes_exactly_one_instance" {
  command = plan

  assert {
    condition     = aws_autoscaling_policy.scale_down["blue"].scaling_adjustment == -1 && aws_autoscaling_policy.scale_down["blue"].adjustment_type == "ChangeInCapacity" && aws_autoscaling_policy.scale_down["blue"].cooldown == 300
    error_message = "Scale-down: ChangeInCapacity -1, cooldown 300."
  }
  assert {
    condition     = aws_autoscaling_policy.scale_up["blue"].scaling_adjustment == 15 && aws_autoscaling_policy.scale_up["blue"].adjustment_type == "PercentChangeInCapacity" && aws_autoscaling_policy.scale_up["blue"].min_adjustment_magnitude == 2 && aws_autoscaling_policy.scale_up["blue"].cooldown == 180
    error_message = "Scale-up: PercentChangeInCapacity +15 %, at least 2 instances, cooldown 180."
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.high["blue"].alarm_description == "ScaleStatus of default says scale up: add 15% (at least 2) blue instance(s)."
    error_message = "The high alarm's description must say the step."
  }
}

run "a_fixed_scale_up_step_has_no_minimum_magnitude" {
  command = plan

  variables {
    scale_up = { adjustment_type = "ChangeInCapacity", adjustment = 2 }
  }

  assert {
    condition     = aws_autoscaling_policy.scale_up["blue"].adjustment_type == "ChangeInCapacity" && aws_autoscaling_policy.scale_up["blue"].scaling_adjustment == 2 && aws_autoscaling_policy.scale_up["blue"].min_adjustment_magnitude == null
    error_message = "ChangeInCapacity: +2, and no min_adjustment_magnitude (AWS rejects it for that type)."
  }
}

run "an_unknown_scale_up_adjustment_type_is_rejected" {
  command = plan

  variables {
    scale_up = { adjustment_type = "ExactCapacity" }
  }

  expect_failures = [var.scale_up]
}

run "alarm_and_policy_overrides_apply" {
  command = plan

  variables {
    metric_namespace = "Acme/Scaling"
    scale_up         = { adjustment = 3 }
    scale_down       = { cooldown = 600 }
    alarm_high       = { evaluation_periods = 2, datapoints_to_alarm = 2 }
    alarm_low        = { period = 120 }
  }

  assert {
    condition     = aws_autoscaling_policy.scale_up["blue"].scaling_adjustment == 3 && aws_autoscaling_policy.scale_up["blue"].cooldown == 180
    error_message = "scale_up.adjustment must override, cooldown keep its default."
  }
  assert {
    condition     = aws_autoscaling_policy.scale_down["blue"].cooldown == 600 && aws_autoscaling_policy.scale_down["blue"].scaling_adjustment == -1
    error_message = "scale_down.cooldown must override; the step stays -1."
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.high["blue"].evaluation_periods == 2 && aws_cloudwatch_metric_alarm.high["blue"].datapoints_to_alarm == 2 && aws_cloudwatch_metric_alarm.high["blue"].period == 60
    error_message = "alarm_high overrides must apply attribute by attribute."
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.low["blue"].period == 120 && aws_cloudwatch_metric_alarm.low["blue"].evaluation_periods == 10
    error_message = "alarm_low overrides must apply attribute by attribute."
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.low["blue"].namespace == "Acme/Scaling"
    error_message = "metric_namespace must reach the alarms."
  }
}

run "autoscale_disabled_keeps_policies_but_no_alarms" {
  command = plan

  variables {
    autoscale_enabled = false
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.high) == 0 && length(aws_cloudwatch_metric_alarm.low) == 0 && length(aws_cloudwatch_metric_alarm.surplus) == 0
    error_message = "No alarms when autoscale_enabled is false, the surplus alarm included."
  }
  assert {
    condition     = length(aws_autoscaling_policy.scale_up) == 1 && length(aws_autoscaling_policy.shortfall) == 1 && length(aws_autoscaling_policy.surplus) == 1
    error_message = "Policies stay, for manual use."
  }
  assert {
    condition     = length([for tag in aws_autoscaling_group.this["blue"].tag : tag if tag.key == "ecs-scaler:shortfall-policy"]) == 0
    error_message = "Without the tag scale-status finds no group to size: sized scale-out is off too."
  }
}

run "desired_capacity_is_left_to_the_alarms_after_creation" {
  command = plan

  # ignore_changes cannot be inspected from a test; this pins the inputs that make bring-up work without it.
  assert {
    condition     = aws_autoscaling_group.this["green"].min_size == 0 && aws_autoscaling_group.this["blue"].min_size == 2
    error_message = "min_size must pass through unchanged: it is what brings an existing idle colour up."
  }
}

run "launch_templates_require_imdsv2_and_encrypt_the_root_volume" {
  command = plan

  assert {
    condition = alltrue([
      for template in values(aws_launch_template.this) :
      template.metadata_options[0].http_tokens == "required" &&
      template.metadata_options[0].http_endpoint == "enabled" &&
      template.block_device_mappings[0].device_name == "/dev/xvda" &&
      template.block_device_mappings[0].ebs[0].encrypted == "true" &&
      template.block_device_mappings[0].ebs[0].volume_size == 50
    ])
    error_message = "IMDSv2 must be required and the 50 GiB root volume encrypted."
  }
  assert {
    condition     = aws_launch_template.this["blue"].image_id == "ami-5ac76b27" && aws_launch_template.this["green"].instance_type == "c3.2xlarge"
    error_message = "Each colour's launch template must use its own AMI and instance type."
  }
  assert {
    condition     = aws_launch_template.this["blue"].iam_instance_profile[0].name == "ecs-instance" && aws_launch_template.this["blue"].iam_instance_profile[0].arn == null
    error_message = "An instance profile name must be passed as a name."
  }
}

run "user_data_joins_the_cluster_with_agent_cleanup_settings" {
  command = plan

  variables {
    ecs_agent_config = { image_minimum_cleanup_age = "3h" }
    ecs_config_extra = { ECS_ENABLE_SPOT_INSTANCE_DRAINING = "true" }
  }

  assert {
    condition = alltrue([
      for line in [
        "ECS_CLUSTER=default",
        "ECS_IMAGE_CLEANUP_INTERVAL=30m",
        "ECS_IMAGE_MINIMUM_CLEANUP_AGE=3h",
        "ECS_NUM_IMAGES_DELETE_PER_CYCLE=5",
        "ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION=1h",
        "ECS_ENABLE_SPOT_INSTANCE_DRAINING=true",
      ] : strcontains(base64decode(aws_launch_template.this["blue"].user_data), "\n${line}\n")
    ])
    error_message = "ecs.config must carry the cluster, the cleanup settings (with overrides) and the extras."
  }
  assert {
    condition     = strcontains(base64decode(aws_launch_template.this["blue"].user_data), "/etc/ecs/ecs.config")
    error_message = "User data must write /etc/ecs/ecs.config."
  }
}

run "groups_are_tagged_and_report_metrics" {
  command = plan

  assert {
    condition = {
      for tag in aws_autoscaling_group.this["green"].tag : tag.key => tag.value if tag.propagate_at_launch
      } == {
      "ecs-scaler:cluster" = "default"
      "ecs-scaler:colour"  = "green"
      Environment          = "production"
      Team                 = "devops"
      Name                 = "default-green"
    }
    error_message = "ASG tags (propagated) must name the cluster, colour, environment and team."
  }
  assert {
    condition     = contains(aws_autoscaling_group.this["blue"].enabled_metrics, "GroupInServiceInstances") && aws_autoscaling_group.this["blue"].metrics_granularity == "1Minute"
    error_message = "Group metrics must be enabled for the dashboard."
  }
  assert {
    condition     = aws_autoscaling_group.this["blue"].vpc_zone_identifier == toset(var.subnet_ids)
    error_message = "Instances must launch into subnet_ids."
  }
}

run "min_size_above_max_size_is_rejected" {
  command = plan

  variables {
    colours = {
      blue  = { image_id = "ami-5ac76b27", instance_type = "c4.2xlarge", min_size = 5, max_size = 2 }
      green = { image_id = "ami-c868b6b5", instance_type = "c3.2xlarge", min_size = 0, max_size = 0, desired_capacity = 0 }
    }
  }

  expect_failures = [var.colours]
}

run "desired_capacity_outside_the_sizes_is_rejected" {
  command = plan

  variables {
    colours = {
      blue  = { image_id = "ami-5ac76b27", instance_type = "c4.2xlarge", min_size = 2, max_size = 15, desired_capacity = 5 }
      green = { image_id = "ami-c868b6b5", instance_type = "c3.2xlarge", min_size = 0, max_size = 0, desired_capacity = 3 }
    }
  }

  expect_failures = [var.colours]
}

run "heartbeat_timeout_the_reconcile_could_miss_is_rejected" {
  command = plan

  # Auto Scaling accepts 30-119 s, but the once-a-minute reconcile may not heartbeat in time.
  variables {
    lifecycle_hook_heartbeat_timeout = 119
  }

  expect_failures = [var.lifecycle_hook_heartbeat_timeout]
}

run "heartbeat_timeout_of_two_minutes_is_accepted" {
  command = plan

  variables {
    lifecycle_hook_heartbeat_timeout = 120
  }

  assert {
    condition     = alltrue([for hook in values(aws_autoscaling_lifecycle_hook.drain) : hook.heartbeat_timeout == 120])
    error_message = "120 s is the lowest heartbeat timeout the module accepts."
  }
}

run "heartbeat_timeout_above_two_hours_is_rejected" {
  command = plan

  variables {
    lifecycle_hook_heartbeat_timeout = 7201
  }

  expect_failures = [var.lifecycle_hook_heartbeat_timeout]
}

run "ecs_config_extra_cannot_override_the_cluster" {
  command = plan

  variables {
    ecs_config_extra = { ECS_CLUSTER = "other" }
  }

  expect_failures = [var.ecs_config_extra]
}

run "a_bad_agent_duration_is_rejected" {
  command = plan

  variables {
    ecs_agent_config = { image_cleanup_interval = "half an hour" }
  }

  expect_failures = [var.ecs_agent_config]
}

run "a_region_other_than_the_providers_is_rejected" {
  command = plan

  variables {
    region = "eu-west-1"
  }

  expect_failures = [aws_autoscaling_group.this]
}

run "a_high_threshold_scale_status_never_exceeds_is_rejected" {
  command = plan

  # ScaleStatus is at most 2: "> 2" could never fire.
  variables {
    alarm_high = { threshold = 2 }
  }

  expect_failures = [var.alarm_high]
}

run "a_low_threshold_scale_status_never_undercuts_is_rejected" {
  command = plan

  # ScaleStatus is at least 0: "< 0" could never fire.
  variables {
    alarm_low = { threshold = 0 }
  }

  expect_failures = [var.alarm_low]
}

run "thresholds_at_the_edges_of_the_scale_status_range_are_accepted" {
  command = plan

  variables {
    alarm_high = { threshold = 0 }
    alarm_low  = { threshold = 2 }
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.high["blue"].threshold == 0 && aws_cloudwatch_metric_alarm.low["blue"].threshold == 2
    error_message = "High 0 (fires on 1 and 2) and low 2 (fires on 0 and 1) can fire, so they are allowed."
  }
}

run "a_sub_minute_high_period_is_rejected" {
  command = plan

  # ScaleStatus is published at standard 60 s resolution.
  variables {
    alarm_high = { period = 30 }
  }

  expect_failures = [var.alarm_high]
}

run "a_low_period_that_is_not_whole_minutes_is_rejected" {
  command = plan

  variables {
    alarm_low = { period = 90 }
  }

  expect_failures = [var.alarm_low]
}

run "a_cluster_name_too_long_for_the_launch_template_names_is_rejected" {
  command = plan

  # 120 characters: "<cluster>-green" would exceed the 125 the AWS provider accepts for a launch template name.
  variables {
    cluster_name = join("", [for i in range(120) : "x"])
  }

  expect_failures = [var.cluster_name]
}

run "the_longest_cluster_name_still_fits_every_derived_name" {
  command = plan

  variables {
    cluster_name = join("", [for i in range(119) : "x"])
  }

  assert {
    condition     = alltrue([for template in values(aws_launch_template.this) : length(template.name) <= 125])
    error_message = "Launch template names must fit in the provider's 125 characters."
  }
  assert {
    condition     = alltrue([for alarm in concat(values(aws_cloudwatch_metric_alarm.high), values(aws_cloudwatch_metric_alarm.low), values(aws_cloudwatch_metric_alarm.surplus)) : length(alarm.alarm_name) <= 255])
    error_message = "Alarm names must fit in 255 characters."
  }
  assert {
    condition     = alltrue([for policy in concat(values(aws_autoscaling_policy.shortfall), values(aws_autoscaling_policy.surplus)) : length(policy.name) <= 255])
    error_message = "Policy names must fit in 255 characters."
  }
}

run "colours_other_than_blue_and_green_are_rejected" {
  command = plan

  variables {
    colours = {
      blue = { image_id = "ami-5ac76b27", instance_type = "c4.2xlarge", min_size = 2, max_size = 15 }
      red  = { image_id = "ami-c868b6b5", instance_type = "c3.2xlarge", min_size = 0, max_size = 0 }
    }
  }

  expect_failures = [var.colours]
}

run "a_malformed_ami_of_either_colour_is_rejected" {
  command = plan

  variables {
    colours = {
      blue  = { image_id = "ami-5ac76b27", instance_type = "c4.2xlarge", min_size = 2, max_size = 15 }
      green = { image_id = "ubuntu-22.04", instance_type = "c3.2xlarge", min_size = 0, max_size = 0 }
    }
  }

  expect_failures = [var.colours]
}

run "mid_swap_no_colour_gets_the_surplus_alarm" {
  command = plan

  variables {
    colours = {
      blue  = { image_id = "ami-5ac76b27", instance_type = "c4.2xlarge", min_size = 4, max_size = 15 }
      green = { image_id = "ami-0aae19d30bab785d3", instance_type = "c5.2xlarge", min_size = 4, max_size = 15 }
    }
  }

  assert {
    condition     = length(aws_autoscaling_policy.surplus) == 0 && length(aws_cloudwatch_metric_alarm.surplus) == 0
    error_message = "With both colours at the same min_size (a swap in progress) neither may remove a surplus batch."
  }
  assert {
    condition     = keys(aws_cloudwatch_metric_alarm.low) == ["blue", "green"]
    error_message = "The ScaleStatus alarms stay on both active colours (scale-status holds the 0 itself mid-swap)."
  }
}
