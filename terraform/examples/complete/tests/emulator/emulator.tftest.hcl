# The example applied to the project's AWS emulator (moto behind tests/aws-emulator/emulator.py), then destroyed.
# Not in the default test directory: `terraform test` alone runs only the mocked tests. scripts/terraform-checks.sh
# apply starts the emulator and runs this file with
#   terraform init -test-directory=tests/emulator
#   terraform test -test-directory=tests/emulator -var 'endpoint="http://127.0.0.1:<port>"'
# (the quotes are part of the value: a variable the configuration does not declare is read as an expression).
# What HCL cannot say (a plan after an out-of-band change, nothing left after destroy, the alarm wiring with both
# colours up) is in tests/terraform/test_apply.py.

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
      clusters  = [{ name = "default", cpu = { min = 40, max = 75 }, memory = { min = 40, max = 75 } }]
    }
    error_message = "The scale-status schedule's target must carry the cluster thresholds. Got ${output.scale_status_schedule_input}"
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
