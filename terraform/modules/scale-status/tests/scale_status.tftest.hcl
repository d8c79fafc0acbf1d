mock_provider "aws" {
  mock_data "aws_region" {
    defaults = {
      id   = "us-east-1"
      name = "us-east-1"
    }
  }
  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }
  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
    }
  }
  # The provider validates policy JSON and ARNs even when mocked.
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
  mock_resource "aws_iam_role" {
    defaults = {
      arn = "arn:aws:iam::123456789012:role/ecs-scaler-scale-status-lambda"
    }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = {
      arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/ecs-scaler-scale-status"
    }
  }
  mock_resource "aws_lambda_function" {
    defaults = {
      arn = "arn:aws:lambda:us-east-1:123456789012:function:ecs-scaler-scale-status"
    }
  }
  mock_resource "aws_cloudwatch_event_rule" {
    defaults = {
      arn = "arn:aws:events:us-east-1:123456789012:rule/ecs-scaler-scale-status-tick"
    }
  }
}

# The mock's default ARN belongs to the schedule; the placement-failure rule needs one of its own.
override_resource {
  target = aws_cloudwatch_event_rule.placement_failure
  values = { arn = "arn:aws:events:us-east-1:123456789012:rule/ecs-scaler-scale-status-placement" }
}

variables {
  zip_path = "tests/fixtures/bootstrap.zip"
  clusters = [{
    name   = "default"
    cpu    = { min = 40, max = 75 }
    memory = { min = 40, max = 75 }
  }]
}

run "the_schedule_sends_the_clusters_and_namespace_as_constant_input" {
  command = plan

  assert {
    condition     = aws_cloudwatch_event_target.tick.input == "{\"clusters\":[{\"cpu\":{\"max\":75,\"min\":40},\"memory\":{\"max\":75,\"min\":40},\"name\":\"default\"}],\"namespace\":\"Curalate/AutoScaling\"}"
    error_message = "Unexpected schedule input: ${aws_cloudwatch_event_target.tick.input}"
  }
  assert {
    condition     = aws_cloudwatch_event_rule.tick.schedule_expression == "rate(1 minute)"
    error_message = "ScaleStatus must be published every minute."
  }
}

run "thresholds_a_cluster_does_not_set_are_left_out_of_the_input" {
  command = plan

  variables {
    clusters = [{ name = "batch", memory = { min = 30, max = 90 } }, { name = "web" }]
  }

  assert {
    condition = jsondecode(aws_cloudwatch_event_target.tick.input) == {
      namespace = "Curalate/AutoScaling"
      clusters = [
        { name = "batch", memory = { min = 30, max = 90 } },
        { name = "web" },
      ]
    }
    error_message = "Unset thresholds must be absent, so the environment and tag layers still apply."
  }
}

run "without_clusters_the_schedule_sends_a_plain_event" {
  command = plan

  variables {
    clusters = []
  }

  assert {
    condition     = aws_cloudwatch_event_target.tick.input == null && output.schedule_input == null
    error_message = "An empty clusters list must leave the input unset (tag discovery)."
  }
}

run "the_function_runs_the_rust_bootstrap_with_json_logs" {
  command = plan

  assert {
    condition = (
      module.lambda.function.runtime == "provided.al2023" &&
      module.lambda.function.handler == "bootstrap" &&
      module.lambda.function.architectures == tolist(["x86_64"]) &&
      module.lambda.function.source_code_hash == filebase64sha256("tests/fixtures/bootstrap.zip")
    )
    error_message = "provided.al2023 / bootstrap / x86_64 from the zip, with its hash."
  }
  assert {
    condition     = module.lambda.function.logging_config[0].log_format == "JSON" && module.lambda.function.logging_config[0].log_group == "/aws/lambda/ecs-scaler-scale-status"
    error_message = "Logs must be JSON, into the module's log group."
  }
  assert {
    condition     = module.lambda.log_retention_in_days == 30
    error_message = "Log retention defaults to 30 days."
  }
}

run "unset_settings_stay_out_of_the_environment" {
  command = plan

  assert {
    condition = module.lambda.function.environment[0].variables == tomap({
      SCALE_NAMESPACE            = "Curalate/AutoScaling"
      CONSOLIDATE                = "true"
      CONSOLIDATE_HEADROOM       = "5"
      EVENT_MIN_INTERVAL_SECONDS = "60"
      RESYNC_SECONDS             = "600"
      ECS_API_SHARE              = "0.1"
      ECS_API_MAX_WAIT_MS        = "2000"
      RUST_LOG                   = "info"
    })
    error_message = "Only the namespace, consolidation, the event interval, the resync period, the ECS API budget (the function's own defaults: 600 s, 0.1, 2000 ms) and the log level are set by default. Got ${jsonencode(module.lambda.function.environment[0].variables)}"
  }
}

run "settings_become_environment_variables" {
  command = plan

  variables {
    settings = {
      clusters            = ["default", "batch"]
      cpu_min             = 50
      cpu_max             = 80.5
      placement_check     = false
      lookback_seconds    = 900
      stale_after_seconds = 240
    }
    log_level = "scale_status=debug,info"
  }

  assert {
    condition = module.lambda.function.environment[0].variables == tomap({
      SCALE_NAMESPACE            = "Curalate/AutoScaling"
      CLUSTERS                   = "default,batch"
      CPU_MIN                    = "50"
      CPU_MAX                    = "80.5"
      PLACEMENT_CHECK            = "false"
      LOOKBACK_SECONDS           = "900"
      STALE_AFTER_SECONDS        = "240"
      CONSOLIDATE                = "true"
      CONSOLIDATE_HEADROOM       = "5"
      EVENT_MIN_INTERVAL_SECONDS = "60"
      RESYNC_SECONDS             = "600"
      ECS_API_SHARE              = "0.1"
      ECS_API_MAX_WAIT_MS        = "2000"
      RUST_LOG                   = "scale_status=debug,info"
    })
    error_message = "Settings must map onto the documented environment variables."
  }
}

run "the_policy_is_least_privilege" {
  # apply: the log statement's resource is the log group's ARN, known only after (mock) creation.
  command = apply

  assert {
    condition     = alltrue([for statement in data.aws_iam_policy_document.lambda.statement : !anytrue([for action in statement.actions : strcontains(action, "*")])])
    error_message = "No wildcard actions."
  }
  assert {
    condition = sort(flatten([for statement in data.aws_iam_policy_document.lambda.statement : tolist(statement.actions)])) == sort([
      "autoscaling:DescribeAutoScalingGroups",
      "autoscaling:ExecutePolicy",
      "cloudwatch:GetMetricData",
      "cloudwatch:PutMetricData",
      "ec2:DescribeInstanceTypes",
      "ec2:DescribeLaunchTemplateVersions",
      "ecs:DescribeClusters",
      "ecs:DescribeContainerInstances",
      "ecs:DescribeServices",
      "ecs:DescribeTaskDefinition",
      "ecs:DescribeTasks",
      "ecs:ListContainerInstances",
      "ecs:ListServices",
      "ecs:ListTasks",
      "ecs:TagResource",
      "logs:CreateLogStream",
      "logs:PutLogEvents",
    ])
    error_message = "The function needs exactly these actions."
  }
  assert {
    # Resource "*" only for actions that support nothing narrower.
    condition = sort(flatten([
      for statement in data.aws_iam_policy_document.lambda.statement : tolist(statement.actions) if contains(statement.resources, "*")
      ])) == sort([
      "autoscaling:DescribeAutoScalingGroups",
      "cloudwatch:GetMetricData",
      "cloudwatch:PutMetricData",
      "ec2:DescribeInstanceTypes",
      "ec2:DescribeLaunchTemplateVersions",
      "ecs:DescribeTaskDefinition",
      "ecs:ListContainerInstances",
      "ecs:ListServices",
      "ecs:ListTasks",
    ])
    error_message = "Only DescribeAutoScalingGroups, GetMetricData, PutMetricData, EC2's DescribeInstanceTypes and DescribeLaunchTemplateVersions, DescribeTaskDefinition and the cluster-conditioned lists may use Resource *."
  }
  assert {
    condition = one([
      for statement in data.aws_iam_policy_document.lambda.statement : statement.resources
      if contains(statement.actions, "ecs:DescribeTasks")
    ]) == toset(["arn:aws:ecs:us-east-1:123456789012:task/default/*"])
    error_message = "DescribeTasks is scoped to the named cluster's tasks."
  }
  assert {
    condition = one([
      for statement in data.aws_iam_policy_document.lambda.statement : [statement.resources, statement.condition]
      if contains(statement.actions, "autoscaling:ExecutePolicy")
      ]) == [
      toset(["arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:*:autoScalingGroupName/*"]),
      toset([{ test = "StringEquals", variable = "autoscaling:ResourceTag/ecs-scaler:cluster", values = tolist(["default"]) }]),
    ]
    error_message = "ExecutePolicy only on groups tagged ecs-scaler:cluster with a managed cluster."
  }
  assert {
    condition = one([
      for statement in data.aws_iam_policy_document.lambda.statement : [statement.resources, statement.condition]
      if contains(statement.actions, "ecs:TagResource")
      ]) == [
      toset(["arn:aws:ecs:us-east-1:123456789012:cluster/default"]),
      toset([{ test = "ForAllValues:StringEquals", variable = "aws:TagKeys", values = tolist(["ecs-scaler:evaluated-at"]) }]),
    ]
    error_message = "TagResource only on the managed cluster, and only its ecs-scaler:evaluated-at tag."
  }
  assert {
    condition = one([
      for statement in data.aws_iam_policy_document.lambda.statement : statement.condition
      if contains(statement.actions, "cloudwatch:PutMetricData")
      ]) == toset([{
        test     = "StringEquals"
        variable = "cloudwatch:namespace"
        values   = tolist(["Curalate/AutoScaling"])
    }])
    error_message = "PutMetricData must be limited to the ScaleStatus namespace."
  }
  assert {
    condition = one([
      for statement in data.aws_iam_policy_document.lambda.statement : statement.resources
      if contains(statement.actions, "ecs:DescribeServices")
    ]) == toset(["arn:aws:ecs:us-east-1:123456789012:service/default/*"])
    error_message = "DescribeServices is scoped to the named cluster's services."
  }
  assert {
    condition = one([
      for statement in data.aws_iam_policy_document.lambda.statement : statement.condition
      if contains(statement.actions, "ecs:ListServices")
      ]) == toset([{
        test     = "ArnLike"
        variable = "ecs:cluster"
        values   = tolist(["arn:aws:ecs:us-east-1:123456789012:cluster/default"])
    }])
    error_message = "The lists are limited to the named cluster."
  }
}

run "a_deployment_that_names_no_cluster_may_discover_them_all" {
  command = apply

  variables {
    clusters = []
  }

  assert {
    condition     = contains(flatten([for statement in data.aws_iam_policy_document.lambda.statement : tolist(statement.actions)]), "ecs:ListClusters")
    error_message = "Discovery needs ListClusters."
  }
  assert {
    condition = one([
      for statement in data.aws_iam_policy_document.lambda.statement : statement.resources
      if contains(statement.actions, "ecs:DescribeClusters")
    ]) == toset(["arn:aws:ecs:us-east-1:123456789012:cluster/*"])
    error_message = "Discovery reads the tags of every cluster of the account and region."
  }
  assert {
    condition = one([
      for statement in data.aws_iam_policy_document.lambda.statement : statement.condition
      if contains(statement.actions, "autoscaling:ExecutePolicy")
    ]) == toset([{ test = "Null", variable = "autoscaling:ResourceTag/ecs-scaler:cluster", values = tolist(["false"]) }])
    error_message = "Discovering, ExecutePolicy reaches any group tagged ecs-scaler:cluster, and only those."
  }
  assert {
    condition     = !can(jsondecode(aws_cloudwatch_event_rule.placement_failure.event_pattern).detail.clusterArn)
    error_message = "Discovering, the placement-failure rule matches every cluster (the function ignores those it does not manage)."
  }
}

run "placement_failures_of_the_managed_clusters_run_the_function" {
  command = apply

  variables {
    settings = { clusters = ["batch"] }
  }

  assert {
    condition = jsondecode(aws_cloudwatch_event_rule.placement_failure.event_pattern) == {
      source        = ["aws.ecs"]
      "detail-type" = ["ECS Service Action"]
      detail = {
        eventName  = ["SERVICE_TASK_PLACEMENT_FAILURE"]
        clusterArn = ["arn:aws:ecs:us-east-1:123456789012:cluster/batch", "arn:aws:ecs:us-east-1:123456789012:cluster/default"]
      }
    }
    error_message = "The rule matches ECS's placement failures in the managed clusters only. Got ${aws_cloudwatch_event_rule.placement_failure.event_pattern}"
  }
  assert {
    condition     = aws_cloudwatch_event_rule.placement_failure.name == "ecs-scaler-scale-status-placement" && aws_cloudwatch_event_target.placement_failure.arn == module.lambda.function_arn && aws_cloudwatch_event_target.placement_failure.input == null
    error_message = "The rule sends the event itself to the function."
  }
  assert {
    condition = (
      aws_lambda_permission.placement_failure.principal == "events.amazonaws.com" &&
      aws_lambda_permission.placement_failure.source_arn == "arn:aws:events:us-east-1:123456789012:rule/ecs-scaler-scale-status-placement" &&
      aws_lambda_permission.placement_failure.function_name == module.lambda.function_name
    )
    error_message = "EventBridge may invoke the function for this rule only."
  }
}

run "one_evaluation_at_a_time_by_default" {
  command = plan

  assert {
    condition     = module.lambda.function.reserved_concurrent_executions == 1
    error_message = "Reserved concurrency 1 serialises the tick and the placement-failure events."
  }
}

run "disruption_controls_become_environment_variables" {
  command = plan

  variables {
    disruption_budget  = "2"
    disruption_windows = ["0 9 * * mon-fri 8h", "0 0 * * sat 24h"]
  }

  assert {
    condition = (
      module.lambda.function.environment[0].variables["DISRUPTION_BUDGET"] == "2" &&
      module.lambda.function.environment[0].variables["DISRUPTION_WINDOWS"] == "0 9 * * mon-fri 8h + 0 0 * * sat 24h"
    )
    error_message = "disruption_budget and disruption_windows become DISRUPTION_BUDGET and DISRUPTION_WINDOWS (windows joined by +)."
  }
}

run "a_malformed_disruption_window_is_rejected" {
  command = plan

  variables {
    disruption_windows = ["weekdays 8h"]
  }

  expect_failures = [var.disruption_windows]
}

run "a_malformed_disruption_budget_is_rejected" {
  command = plan

  variables {
    disruption_budget = "ten"
  }

  expect_failures = [var.disruption_budget]
}

run "consolidation_and_the_event_interval_are_configurable" {
  command = plan

  variables {
    consolidate                    = false
    consolidate_headroom           = 2.5
    event_min_interval_seconds     = 300
    reserved_concurrent_executions = -1
  }

  assert {
    condition = (
      module.lambda.function.environment[0].variables["CONSOLIDATE"] == "false" &&
      module.lambda.function.environment[0].variables["CONSOLIDATE_HEADROOM"] == "2.5" &&
      module.lambda.function.environment[0].variables["EVENT_MIN_INTERVAL_SECONDS"] == "300" &&
      module.lambda.function.reserved_concurrent_executions == -1
    )
    error_message = "consolidate, consolidate_headroom and event_min_interval_seconds become CONSOLIDATE, CONSOLIDATE_HEADROOM and EVENT_MIN_INTERVAL_SECONDS."
  }
}

run "an_event_interval_below_ten_seconds_is_rejected" {
  command = plan

  variables {
    event_min_interval_seconds = 5
  }

  expect_failures = [var.event_min_interval_seconds]
}

run "an_event_interval_above_an_hour_is_rejected" {
  command = plan

  variables {
    event_min_interval_seconds = 3601
  }

  expect_failures = [var.event_min_interval_seconds]
}

run "a_fractional_reserved_concurrency_is_rejected" {
  command = plan

  variables {
    reserved_concurrent_executions = 1.5
  }

  expect_failures = [var.reserved_concurrent_executions]
}

run "the_api_budget_and_the_resync_period_become_environment_variables" {
  command = plan

  variables {
    ecs_api_share       = 0.25
    ecs_api_max_wait_ms = 500
    resync_seconds      = 1200
  }

  assert {
    condition = (
      module.lambda.function.environment[0].variables["ECS_API_SHARE"] == "0.25" &&
      module.lambda.function.environment[0].variables["ECS_API_MAX_WAIT_MS"] == "500" &&
      module.lambda.function.environment[0].variables["RESYNC_SECONDS"] == "1200"
    )
    error_message = "ecs_api_share, ecs_api_max_wait_ms and resync_seconds become ECS_API_SHARE, ECS_API_MAX_WAIT_MS and RESYNC_SECONDS. Got ${jsonencode(module.lambda.function.environment[0].variables)}"
  }
}

# The ends of the ranges the function accepts: a share of all of each bucket, no wait at all, a minute and an hour.
run "the_ends_of_the_ranges_are_accepted" {
  command = plan

  variables {
    ecs_api_share       = 1
    ecs_api_max_wait_ms = 0
    resync_seconds      = 3600
  }

  assert {
    condition = (
      module.lambda.function.environment[0].variables["ECS_API_SHARE"] == "1" &&
      module.lambda.function.environment[0].variables["ECS_API_MAX_WAIT_MS"] == "0" &&
      module.lambda.function.environment[0].variables["RESYNC_SECONDS"] == "3600"
    )
    error_message = "A share of 1, a wait of 0 ms and a resync of 3600 s are within range."
  }
}

run "a_resync_of_a_minute_is_accepted" {
  command = plan

  variables {
    resync_seconds = 60
  }

  assert {
    condition     = module.lambda.function.environment[0].variables["RESYNC_SECONDS"] == "60"
    error_message = "60 s is the shortest resync period."
  }
}

run "an_api_share_of_zero_is_rejected" {
  command = plan

  variables {
    ecs_api_share = 0
  }

  expect_failures = [var.ecs_api_share]
}

run "an_api_share_above_one_is_rejected" {
  command = plan

  variables {
    ecs_api_share = 1.5
  }

  expect_failures = [var.ecs_api_share]
}

run "a_negative_api_wait_is_rejected" {
  command = plan

  variables {
    ecs_api_max_wait_ms = -1
  }

  expect_failures = [var.ecs_api_max_wait_ms]
}

run "a_fractional_api_wait_is_rejected" {
  command = plan

  variables {
    ecs_api_max_wait_ms = 2.5
  }

  expect_failures = [var.ecs_api_max_wait_ms]
}

run "an_api_wait_as_long_as_the_timeout_is_rejected" {
  command = plan

  variables {
    timeout             = 10
    ecs_api_max_wait_ms = 10000
  }

  expect_failures = [aws_cloudwatch_event_target.tick]
}

run "a_resync_below_a_minute_is_rejected" {
  command = plan

  variables {
    resync_seconds = 59
  }

  expect_failures = [var.resync_seconds]
}

run "a_resync_above_an_hour_is_rejected" {
  command = plan

  variables {
    resync_seconds = 3601
  }

  expect_failures = [var.resync_seconds]
}

run "a_fractional_resync_is_rejected" {
  command = plan

  variables {
    resync_seconds = 600.5
  }

  expect_failures = [var.resync_seconds]
}

run "errors_alarm_is_optional" {
  command = apply

  variables {
    errors_alarm_enabled = false
  }

  assert {
    condition     = module.lambda.errors_alarm == null && output.errors_alarm_arn == null
    error_message = "Without the alarm the output must be null."
  }
}

run "errors_alarm_watches_the_function" {
  command = plan

  variables {
    alarm_actions = ["arn:aws:sns:us-east-1:123456789012:pager"]
  }

  assert {
    condition = (
      module.lambda.errors_alarm.namespace == "AWS/Lambda" &&
      module.lambda.errors_alarm.metric_name == "Errors" &&
      module.lambda.errors_alarm.dimensions == tomap({ FunctionName = "ecs-scaler-scale-status" }) &&
      module.lambda.errors_alarm.alarm_actions == toset(["arn:aws:sns:us-east-1:123456789012:pager"])
    )
    error_message = "The Errors alarm must watch the function and notify alarm_actions."
  }
}

run "a_min_threshold_not_below_max_is_rejected" {
  command = plan

  variables {
    clusters = [{ name = "default", cpu = { min = 75, max = 75 } }]
  }

  expect_failures = [var.clusters]
}

run "a_threshold_above_100_is_rejected" {
  command = plan

  variables {
    clusters = [{ name = "default", memory = { min = 40, max = 120 } }]
  }

  expect_failures = [var.clusters]
}

run "a_negative_threshold_is_rejected" {
  command = plan

  variables {
    clusters = [{ name = "default", cpu = { min = -1, max = 50 } }]
  }

  expect_failures = [var.clusters]
}

run "settings_thresholds_are_validated_too" {
  command = plan

  variables {
    settings = { memory_min = 90, memory_max = 60 }
  }

  expect_failures = [var.settings]
}

run "a_lookback_below_a_minute_is_rejected" {
  command = plan

  variables {
    settings = { lookback_seconds = 30 }
  }

  expect_failures = [var.settings]
}

run "a_retention_cloudwatch_does_not_offer_is_rejected" {
  command = plan

  variables {
    log_retention_in_days = 31
  }

  expect_failures = [var.log_retention_in_days]
}

run "an_aws_namespace_is_rejected" {
  command = plan

  variables {
    namespace = "AWS/ECS"
  }

  expect_failures = [var.namespace]
}
