# The example applied to the project's AWS emulator (moto behind tests/aws-emulator/emulator.py), then destroyed.
# Not in the default test directory: `terraform test` alone runs only the mocked tests. scripts/terraform-checks.sh
# apply starts the emulator and runs this file with
#   terraform init -test-directory=tests/emulator
#   terraform test -test-directory=tests/emulator -var 'endpoint="http://127.0.0.1:<port>"'
# (the quotes are part of the value: a variable the configuration does not declare is read as an expression).
# What HCL cannot say (a plan after an out-of-band change, nothing left after destroy, the alarm wiring with both
# colours up, IAM policies, the event rule's target, a step policy executed and a scale-in that asks the drain-hook
# function) is in tests/terraform/test_apply.py. The groups' custom termination policy is the drain-hook function,
# which the emulator never runs: scripts/terraform-checks.sh runs this test under
# tests/terraform/termination_stand_in.py, which answers for it, or the destroy could not empty the groups.

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "emulator"
  secret_key                  = "emulator"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true

  # Every service the example uses, at the one URL the emulator serves them all on.
  endpoints {
    autoscaling = var.endpoint
    cloudwatch  = var.endpoint
    ec2         = var.endpoint
    ecs         = var.endpoint
    events      = var.endpoint
    iam         = var.endpoint
    lambda      = var.endpoint
    logs        = var.endpoint
    sns         = var.endpoint
    sts         = var.endpoint
  }

  default_tags {
    tags = {
      Project   = "ecs-scaler"
      ManagedBy = "terraform"
    }
  }
}

variables {
  # moto accepts any well-formed AMI id; the emulator never runs the Lambdas, so the test fixtures do.
  blue             = { image_id = "ami-0123456789abcdef0" }
  scale_status_zip = "../../modules/scale-status/tests/fixtures/bootstrap.zip"
  drain_hook_zip   = "../../modules/drain-hook/tests/fixtures/bootstrap.zip"
}

run "the_example_applies" {
  command = apply

  assert {
    condition     = aws_ecs_cluster.this.tags["ecs-scaler:enabled"] == "true" && output.cluster_name == "default"
    error_message = "The cluster default must exist, tagged ecs-scaler:enabled=true."
  }
  assert {
    condition     = output.active_colours == tolist(["blue"]) && output.autoscaling_group_names == { blue = "default-blue", green = "default-green" }
    error_message = "Both groups must exist, blue active and green idle."
  }
  assert {
    condition     = keys(module.ecs_cluster_bg.scale_status_alarms) == ["blue"]
    error_message = "Only the active colour may have ScaleStatus alarms."
  }
  assert {
    condition = module.ecs_cluster_bg.scale_status_alarms["blue"].high == {
      alarm_name          = "default_ScaleStatus_high_blue"
      arn                 = module.ecs_cluster_bg.scale_status_high_alarm_arns["blue"]
      comparison_operator = "GreaterThanThreshold"
      threshold           = 1
      statistic           = "Maximum"
      period              = 60
      evaluation_periods  = 4
      datapoints_to_alarm = 0
      namespace           = "Curalate/AutoScaling"
      metric_name         = "ScaleStatus"
      dimensions          = tomap({ ClusterName = "default" })
      alarm_actions       = toset([module.ecs_cluster_bg.scale_up_policy_arns["blue"]])
    }
    error_message = "High alarm, as the emulator holds it: ScaleStatus > 1, Maximum, 60 s x 4, on blue's scale-up policy. Got ${jsonencode(module.ecs_cluster_bg.scale_status_alarms["blue"].high)}"
  }
  assert {
    condition = module.ecs_cluster_bg.scale_status_alarms["blue"].low == {
      alarm_name          = "default_ScaleStatus_low_blue"
      arn                 = module.ecs_cluster_bg.scale_status_low_alarm_arns["blue"]
      comparison_operator = "LessThanThreshold"
      threshold           = 1
      statistic           = "Maximum"
      period              = 60
      evaluation_periods  = 10
      datapoints_to_alarm = 0
      namespace           = "Curalate/AutoScaling"
      metric_name         = "ScaleStatus"
      dimensions          = tomap({ ClusterName = "default" })
      alarm_actions       = toset([module.ecs_cluster_bg.scale_down_policy_arns["blue"]])
    }
    error_message = "Low alarm, as the emulator holds it: ScaleStatus < 1, Maximum, 60 s x 10, on blue's scale-down policy. Got ${jsonencode(module.ecs_cluster_bg.scale_status_alarms["blue"].low)}"
  }
  assert {
    condition = alltrue([
      for hook in values(module.ecs_cluster_bg.lifecycle_hooks) :
      hook.name == "ecs-scaler-drain" && hook.heartbeat_timeout == 300 && hook.default_result == "CONTINUE" &&
      jsondecode(hook.notification_metadata) == { cluster = "default" }
    ]) && keys(module.ecs_cluster_bg.lifecycle_hooks) == ["blue", "green"]
    error_message = "Each group's termination hook: 300 s heartbeat timeout, CONTINUE, metadata naming the cluster. Got ${jsonencode(module.ecs_cluster_bg.lifecycle_hooks)}"
  }
  assert {
    condition     = module.scale_status.errors_alarm_arn != null && module.drain_hook.errors_alarm_arn != null
    error_message = "Both Lambdas need their Errors alarm."
  }
  assert {
    condition = jsondecode(output.scale_status_schedule_input) == {
      namespace = "Curalate/AutoScaling"
      clusters  = [{ name = "default" }]
    }
    error_message = "The scale-status schedule's target must name the cluster (its thresholds are in both Lambdas' environment). Got ${output.scale_status_schedule_input}"
  }
  assert {
    condition     = module.drain_hook.notification_topic_kms_key_id == "alias/aws/sns"
    error_message = "The lifecycle topic must be encrypted with alias/aws/sns."
  }
  assert {
    condition     = startswith(module.drain_hook.subscription_arn, "${output.drain_hook_topic_arn}:")
    error_message = "The drain Lambda must be subscribed to the lifecycle topic."
  }
  assert {
    condition     = anytrue([for widget in jsondecode(module.dashboard.dashboard_body).widgets : try(widget.properties.title, "") == "ScaleStatus"])
    error_message = "The dashboard must hold the ScaleStatus graph."
  }
  assert {
    condition     = anytrue([for widget in jsondecode(module.dashboard.dashboard_body).widgets : try(widget.properties.metrics[0][1], "") == "InstancesShortfall"])
    error_message = "The dashboard must hold the InstancesShortfall graph."
  }
  assert {
    condition = keys(module.ecs_cluster_bg.shortfall_policies) == ["blue"] && {
      for key, value in module.ecs_cluster_bg.shortfall_policies["blue"] : key => value if key != "arn" && key != "step_adjustments"
      } == {
      name                      = "default-shortfall-blue"
      policy_type               = "StepScaling"
      adjustment_type           = "ChangeInCapacity"
      metric_aggregation_type   = "Maximum"
      estimated_instance_warmup = 300
    }
    error_message = "The active colour's shortfall step policy, as the emulator holds it: default-shortfall-blue, StepScaling, ChangeInCapacity, Maximum, 300 s warm-up (and none for idle green). Got ${jsonencode(module.ecs_cluster_bg.shortfall_policies)}"
  }
  assert {
    condition     = module.ecs_cluster_bg.shortfall_policies["blue"].step_adjustments == toset(jsondecode(file("../../modules/ecs-cluster-blue-green/shortfall-steps.json")))
    error_message = "The emulator must hold shortfall-steps.json's steps. Got ${jsonencode(module.ecs_cluster_bg.shortfall_policies["blue"].step_adjustments)}"
  }
  assert {
    condition = keys(module.ecs_cluster_bg.surplus_policies) == ["blue"] && {
      for key, value in module.ecs_cluster_bg.surplus_policies["blue"] : key => value if key != "arn" && key != "step_adjustments"
      } == {
      name                    = "default-surplus-blue"
      policy_type             = "StepScaling"
      adjustment_type         = "ChangeInCapacity"
      metric_aggregation_type = "Minimum"
    }
    error_message = "The active colour's surplus step policy, as the emulator holds it: default-surplus-blue, StepScaling, ChangeInCapacity, Minimum (and none for idle green). Got ${jsonencode(module.ecs_cluster_bg.surplus_policies)}"
  }
  assert {
    condition     = module.ecs_cluster_bg.surplus_policies["blue"].step_adjustments == toset(jsondecode(file("../../modules/ecs-cluster-blue-green/surplus-steps.json")))
    error_message = "The emulator must hold surplus-steps.json's steps. Got ${jsonencode(module.ecs_cluster_bg.surplus_policies["blue"].step_adjustments)}"
  }
  assert {
    condition = keys(module.ecs_cluster_bg.surplus_alarms) == ["blue"] && {
      for key, value in module.ecs_cluster_bg.surplus_alarms["blue"] : key => value if key != "arn"
      } == {
      alarm_name          = "default_InstancesSurplus_blue"
      comparison_operator = "GreaterThanOrEqualToThreshold"
      threshold           = 2
      statistic           = "Minimum"
      period              = 60
      evaluation_periods  = 10
      datapoints_to_alarm = 10
      treat_missing_data  = "notBreaching"
      namespace           = "Curalate/AutoScaling"
      metric_name         = "InstancesSurplus"
      dimensions          = tomap({ ClusterName = "default" })
      alarm_actions       = toset([module.ecs_cluster_bg.surplus_policies["blue"].arn])
    }
    error_message = "Surplus alarm, as the emulator holds it: InstancesSurplus >= 2, Minimum, 60 s x 10 of 10, missing not breaching, on blue's surplus policy. Got ${jsonencode(module.ecs_cluster_bg.surplus_alarms)}"
  }
  assert {
    condition     = anytrue([for widget in jsondecode(module.dashboard.dashboard_body).widgets : try(widget.properties.metrics[0][1], "") == "InstancesSurplus"])
    error_message = "The dashboard must hold the InstancesSurplus graph."
  }
  assert {
    condition = module.ecs_cluster_bg.termination_policies == {
      blue  = tolist([output.drain_hook_function_arn, "OldestLaunchTemplate", "Default"])
      green = tolist([output.drain_hook_function_arn, "OldestLaunchTemplate", "Default"])
    } && output.drain_hook_function_arn == "arn:aws:lambda:us-east-1:123456789012:function:default-drain-hook"
    error_message = "Both groups list the drain-hook function first in their termination policies. Got ${jsonencode(module.ecs_cluster_bg.termination_policies)}"
  }
  assert {
    condition     = module.drain_hook.autoscaling_service_role_arn == "arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
    error_message = "Auto Scaling's service-linked role of the account may invoke the drain-hook function. Got ${module.drain_hook.autoscaling_service_role_arn}"
  }
  assert {
    condition = jsondecode(module.scale_status.placement_failure_event_pattern) == {
      source        = ["aws.ecs"]
      "detail-type" = ["ECS Service Action"]
      detail        = { eventName = ["SERVICE_TASK_PLACEMENT_FAILURE"], clusterArn = [aws_ecs_cluster.this.arn] }
    }
    error_message = "The placement-failure rule matches ECS's placement failures of the cluster. Got ${module.scale_status.placement_failure_event_pattern}"
  }
}

run "the_emulator_holds_what_was_applied" {
  command = plan

  module {
    source = "./tests/emulator/read-back"
  }

  variables {
    autoscaling_group_names = run.the_example_applies.autoscaling_group_names
    function_names          = [run.the_example_applies.scale_status_function_name, run.the_example_applies.drain_hook_function_name]
    topic_arn               = run.the_example_applies.drain_hook_topic_arn
  }

  assert {
    condition = alltrue([
      for colour, group in output.groups :
      group.tags["ecs-scaler:cluster"] == "default" && group.tags["ecs-scaler:colour"] == colour &&
      contains(group.enabled_metrics, "GroupInServiceInstances")
    ])
    error_message = "Each group is tagged with its cluster and colour and reports GroupInServiceInstances. Got ${jsonencode(output.groups)}"
  }
  assert {
    condition     = output.groups["blue"].desired_capacity == 2 && output.groups["green"].desired_capacity == 0 && output.groups["green"].max_size == 0
    error_message = "Blue runs 2 instances, green none."
  }
  assert {
    condition     = output.groups["blue"].group_tags == { "ecs-scaler:shortfall-policy" = "default-shortfall-blue" } && output.groups["green"].group_tags == {}
    error_message = "Blue names its shortfall policy in a tag of its own (not propagated); idle green has none. Got ${jsonencode({ for colour, group in output.groups : colour => group.group_tags })}"
  }
  assert {
    # The data source keeps them as a set: the order, function first, is asserted on the group's own read-back above.
    condition = alltrue([
      for group in values(output.groups) :
      toset(group.termination_policies) == toset([run.the_example_applies.drain_hook_function_arn, "OldestLaunchTemplate", "Default"])
    ])
    error_message = "Read back, both groups' termination policies are the drain-hook function, OldestLaunchTemplate and Default. Got ${jsonencode({ for colour, group in output.groups : colour => group.termination_policies })}"
  }
  assert {
    condition = (
      output.functions[run.the_example_applies.scale_status_function_name].environment["CONSOLIDATE"] == "true" &&
      output.functions[run.the_example_applies.scale_status_function_name].environment["EVENT_MIN_INTERVAL_SECONDS"] == "60" &&
      output.functions[run.the_example_applies.scale_status_function_name].reserved_concurrent_executions == 1
    )
    error_message = "scale-status runs with CONSOLIDATE=true, EVENT_MIN_INTERVAL_SECONDS=60 and a reserved concurrency of 1. Got ${jsonencode(output.functions[run.the_example_applies.scale_status_function_name])}"
  }
  assert {
    # Read back from the emulator: the drain hook's termination policy judges a scale-in by scale-status's limits.
    condition = alltrue([
      for key, value in {
        CPU_MIN              = "40"
        CPU_MAX              = "75"
        MEMORY_MIN           = "40"
        MEMORY_MAX           = "75"
        CONSOLIDATE_HEADROOM = "5"
        ECS_API_SHARE        = "0.1"
        ECS_API_MAX_WAIT_MS  = "2000"
      } :
      lookup(output.functions[run.the_example_applies.scale_status_function_name].environment, key, null) == value &&
      lookup(output.functions[run.the_example_applies.drain_hook_function_name].environment, key, null) == value
    ]) && lookup(output.functions[run.the_example_applies.scale_status_function_name].environment, "RESYNC_SECONDS", null) == "600"
    error_message = "Both Lambdas run with the example's thresholds (40/75), headroom (5) and ECS API budget (0.1, 2000 ms); scale-status with RESYNC_SECONDS=600. Got ${jsonencode({ for name, function in output.functions : name => function.environment })}"
  }
  assert {
    condition = alltrue([
      for name, function in output.functions :
      function.runtime == "provided.al2023" && function.handler == "bootstrap" && function.retention_in_days == 30
    ]) && length(output.functions) == 2
    error_message = "Both Lambdas run provided.al2023/bootstrap and keep their logs 30 days. Got ${jsonencode(output.functions)}"
  }
  assert {
    condition     = output.topic_arn == run.the_example_applies.drain_hook_topic_arn
    error_message = "The lifecycle topic must exist."
  }
}
