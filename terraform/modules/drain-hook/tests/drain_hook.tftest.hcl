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
  mock_resource "aws_sns_topic" {
    defaults = {
      arn = "arn:aws:sns:us-east-1:123456789012:ecs-scaler-drain-hook"
    }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = {
      arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/ecs-scaler-drain-hook"
    }
  }
  mock_resource "aws_lambda_function" {
    defaults = {
      arn = "arn:aws:lambda:us-east-1:123456789012:function:ecs-scaler-drain-hook"
    }
  }
  mock_resource "aws_cloudwatch_event_rule" {
    defaults = {
      arn = "arn:aws:events:us-east-1:123456789012:rule/ecs-scaler-drain-hook-reconcile"
    }
  }
}

# The module has two roles, Auto Scaling's (it publishes the lifecycle notifications) and the function's: each gets
# an ARN of its own, so a test can tell which one an output or a hook hands on.
override_resource {
  target = aws_iam_role.autoscaling
  values = { arn = "arn:aws:iam::123456789012:role/ecs-scaler-drain-hook-asg" }
}

override_resource {
  target = module.lambda.aws_iam_role.this
  values = { arn = "arn:aws:iam::123456789012:role/ecs-scaler-drain-hook-lambda" }
}

variables {
  zip_path      = "tests/fixtures/bootstrap.zip"
  cluster_names = ["default", "batch"]
}

run "lifecycle_notifications_reach_the_function" {
  command = apply

  assert {
    condition     = aws_sns_topic_subscription.drain.protocol == "lambda" && aws_sns_topic_subscription.drain.endpoint == module.lambda.function_arn && aws_sns_topic_subscription.drain.topic_arn == aws_sns_topic.lifecycle.arn
    error_message = "The function must be subscribed to the lifecycle topic."
  }
  assert {
    condition     = aws_lambda_permission.sns.principal == "sns.amazonaws.com" && aws_lambda_permission.sns.source_arn == aws_sns_topic.lifecycle.arn
    error_message = "SNS must be allowed to invoke the function, from this topic only."
  }
  assert {
    condition     = output.notification_target_arn == aws_sns_topic.lifecycle.arn
    error_message = "notification_target_arn must hand the topic to the blue/green module."
  }
  assert {
    condition     = output.role_arn == "arn:aws:iam::123456789012:role/ecs-scaler-drain-hook-asg"
    error_message = "role_arn must be Auto Scaling's publishing role (got ${output.role_arn}), not the function's."
  }
  assert {
    condition     = output.lambda_role_arn == "arn:aws:iam::123456789012:role/ecs-scaler-drain-hook-lambda" && module.lambda.function.role == output.lambda_role_arn
    error_message = "lambda_role_arn must be the function's execution role (got ${output.lambda_role_arn})."
  }
}

run "the_topic_is_encrypted_with_the_aws_managed_key_by_default" {
  command = plan

  assert {
    condition     = aws_sns_topic.lifecycle.kms_master_key_id == "alias/aws/sns"
    error_message = "Default encryption is alias/aws/sns."
  }
  assert {
    condition     = length(data.aws_iam_policy_document.autoscaling_publish.statement) == 1
    error_message = "The AWS managed key needs no KMS grant in the role."
  }
}

run "a_customer_key_encrypts_the_topic_and_the_role_may_use_it" {
  command = plan

  variables {
    sns_kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  }

  assert {
    condition     = aws_sns_topic.lifecycle.kms_master_key_id == var.sns_kms_key_arn
    error_message = "The topic must use the given key."
  }
  assert {
    condition = anytrue([
      for statement in data.aws_iam_policy_document.autoscaling_publish.statement :
      statement.resources == toset([var.sns_kms_key_arn]) && contains(statement.actions, "kms:GenerateDataKey*")
    ])
    error_message = "Auto Scaling's role must be able to encrypt with the customer key."
  }
}

run "auto_scaling_assumes_the_publishing_role" {
  command = plan

  assert {
    condition     = one(one(data.aws_iam_policy_document.autoscaling_assume.statement).principals).identifiers == toset(["autoscaling.amazonaws.com"])
    error_message = "Only Auto Scaling may assume the notification role."
  }
}

run "the_reconcile_runs_every_minute_with_a_plain_event" {
  command = apply

  assert {
    condition     = aws_cloudwatch_event_rule.reconcile.schedule_expression == "rate(1 minute)" && aws_cloudwatch_event_target.reconcile.input == null
    error_message = "Reconcile: rate(1 minute), plain scheduled event."
  }
  assert {
    condition     = aws_lambda_permission.reconcile.principal == "events.amazonaws.com" && aws_lambda_permission.reconcile.source_arn == aws_cloudwatch_event_rule.reconcile.arn
    error_message = "EventBridge must be allowed to invoke the function, from this rule only."
  }
}

run "the_function_is_configured_for_its_poll_loop" {
  command = plan

  assert {
    condition     = module.lambda.function.timeout == 120 && module.lambda.function.runtime == "provided.al2023" && module.lambda.function.handler == "bootstrap"
    error_message = "Timeout 120 s on provided.al2023 / bootstrap."
  }
  assert {
    condition = module.lambda.function.environment[0].variables == tomap({
      SCALE_NAMESPACE      = "Curalate/AutoScaling"
      CLUSTERS             = "default,batch"
      POLL_SECONDS         = "10"
      RECONCILE_SECONDS    = "45"
      MAX_DRAIN_SECONDS    = "3600"
      DRAIN_TIMEOUT_RESULT = "CONTINUE"
      ECS_API_SHARE        = "0.1"
      ECS_API_MAX_WAIT_MS  = "2000"
      RUST_LOG             = "info"
    })
    error_message = "Default environment: namespace, the deployment's clusters, poll, reconcile window, max drain, timeout result, the ECS API budget (the function's own defaults), log level; optional ones (the thresholds too) unset. Got ${jsonencode(module.lambda.function.environment[0].variables)}"
  }
  assert {
    condition     = module.lambda.function.logging_config[0].log_format == "JSON"
    error_message = "Logs must be JSON."
  }
}

run "optional_settings_become_environment_variables" {
  command = plan

  variables {
    asg_names            = ["default-blue", "default-green"]
    fallback_cluster     = "default"
    lifecycle_hook_name  = "ecs-scaler-drain"
    drain_timeout_result = "ABANDON"
  }

  assert {
    condition = (
      module.lambda.function.environment[0].variables["ASG_NAMES"] == "default-blue,default-green" &&
      module.lambda.function.environment[0].variables["CLUSTER"] == "default" &&
      module.lambda.function.environment[0].variables["LIFECYCLE_HOOK_NAME"] == "ecs-scaler-drain" &&
      module.lambda.function.environment[0].variables["DRAIN_TIMEOUT_RESULT"] == "ABANDON"
    )
    error_message = "ASG_NAMES, CLUSTER, LIFECYCLE_HOOK_NAME and DRAIN_TIMEOUT_RESULT must be passed through."
  }
}

run "the_policy_is_scoped_to_the_managed_clusters" {
  # apply: the log statement's resource is the log group's ARN, known only after (mock) creation.
  command = apply

  assert {
    condition     = alltrue([for statement in data.aws_iam_policy_document.lambda.statement : !anytrue([for action in statement.actions : strcontains(action, "*")])])
    error_message = "No wildcard actions."
  }
  assert {
    condition = sort(flatten([for statement in data.aws_iam_policy_document.lambda.statement : tolist(statement.actions)])) == sort([
      "autoscaling:CompleteLifecycleAction",
      "autoscaling:DescribeAutoScalingGroups",
      "autoscaling:DescribeAutoScalingInstances",
      "autoscaling:DescribeLifecycleHooks",
      "autoscaling:RecordLifecycleActionHeartbeat",
      "cloudwatch:PutMetricData",
      "ec2:DescribeInstanceTypes",
      "ecs:DescribeClusters",
      "ecs:DescribeContainerInstances",
      "ecs:DescribeServices",
      "ecs:DescribeTaskDefinition",
      "ecs:DescribeTasks",
      "ecs:ListClusters",
      "ecs:ListContainerInstances",
      "ecs:ListServices",
      "ecs:ListTasks",
      "ecs:PutAttributes",
      "ecs:UpdateContainerInstancesState",
      "logs:CreateLogStream",
      "logs:PutLogEvents",
    ])
    error_message = "The function needs exactly these actions."
  }
  assert {
    # Resource "*" only where nothing narrower exists, and then with a condition unless none exists either.
    condition = alltrue([
      for statement in data.aws_iam_policy_document.lambda.statement :
      length(statement.condition) > 0 || alltrue([for action in statement.actions : startswith(action, "autoscaling:Describe") || contains(["ecs:ListClusters", "ecs:DescribeTaskDefinition", "ec2:DescribeInstanceTypes"], action)])
      if contains(statement.resources, "*")
    ])
    error_message = "Every Resource * statement except Auto Scaling's Describe*, ECS ListClusters and DescribeTaskDefinition and EC2 DescribeInstanceTypes needs a condition."
  }
  assert {
    condition = one([
      for statement in data.aws_iam_policy_document.lambda.statement : statement.resources
      if contains(statement.actions, "ecs:ListContainerInstances")
    ]) == toset(["arn:aws:ecs:us-east-1:123456789012:cluster/*"])
    error_message = "ListContainerInstances reaches every cluster of the account and region, to find misplaced instances; it reads ARNs only."
  }
  assert {
    condition = one([
      for statement in data.aws_iam_policy_document.lambda.statement : statement.condition
      if contains(statement.actions, "autoscaling:CompleteLifecycleAction")
      ]) == toset([{
        test     = "StringEquals"
        variable = "autoscaling:ResourceTag/ecs-scaler:cluster"
        values   = tolist(["default", "batch"])
    }])
    error_message = "Lifecycle actions only on ASGs tagged with a managed cluster."
  }
  assert {
    condition = one([
      for statement in data.aws_iam_policy_document.lambda.statement : statement.resources
      if contains(statement.actions, "ecs:UpdateContainerInstancesState")
      ]) == toset([
      "arn:aws:ecs:us-east-1:123456789012:container-instance/default/*",
      "arn:aws:ecs:us-east-1:123456789012:container-instance/batch/*",
    ])
    error_message = "Draining is scoped to the managed clusters' container instances."
  }
  assert {
    condition = one([
      for statement in data.aws_iam_policy_document.lambda.statement : statement.resources
      if contains(statement.actions, "ecs:DescribeClusters")
      ]) == toset([
      "arn:aws:ecs:us-east-1:123456789012:cluster/default",
      "arn:aws:ecs:us-east-1:123456789012:cluster/batch",
    ])
    error_message = "Cluster reads are scoped to the managed clusters."
  }
  assert {
    condition = one([
      for statement in data.aws_iam_policy_document.lambda.statement : statement.condition
      if contains(statement.actions, "ecs:ListTasks")
      ]) == toset([{
        test     = "ArnEquals"
        variable = "ecs:cluster"
        values   = tolist(["arn:aws:ecs:us-east-1:123456789012:cluster/default", "arn:aws:ecs:us-east-1:123456789012:cluster/batch"])
    }])
    error_message = "ListTasks and ListServices are scoped by the ecs:cluster condition."
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
    error_message = "PutMetricData must be limited to the namespace."
  }
}

run "auto_scaling_may_ask_the_function_which_instances_go" {
  command = apply

  assert {
    condition = (
      aws_lambda_permission.autoscaling.statement_id == "AllowInvokeByAutoScaling" &&
      aws_lambda_permission.autoscaling.action == "lambda:InvokeFunction" &&
      aws_lambda_permission.autoscaling.function_name == module.lambda.function_name &&
      aws_lambda_permission.autoscaling.qualifier == null &&
      aws_lambda_permission.autoscaling.principal == "arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
    )
    error_message = "The unpublished function must admit the account's Auto Scaling service-linked role (AWS documents the role ARN as the principal, not autoscaling.amazonaws.com). Got ${aws_lambda_permission.autoscaling.principal}"
  }
  assert {
    condition     = output.termination_policy_arn == "arn:aws:lambda:us-east-1:123456789012:function:ecs-scaler-drain-hook" && output.autoscaling_service_role_arn == aws_lambda_permission.autoscaling.principal
    error_message = "termination_policy_arn hands the unqualified function ARN to the groups."
  }
}

run "a_custom_suffix_service_linked_role_may_be_named" {
  command = plan

  variables {
    autoscaling_service_role_arn = "arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling_ecs"
  }

  assert {
    condition     = aws_lambda_permission.autoscaling.principal == "arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling_ecs"
    error_message = "The role named in autoscaling_service_role_arn is the principal."
  }
}

run "a_principal_that_is_not_an_auto_scaling_service_linked_role_is_rejected" {
  command = plan

  variables {
    autoscaling_service_role_arn = "arn:aws:iam::123456789012:role/ecs-scaler-drain-hook-asg"
  }

  expect_failures = [var.autoscaling_service_role_arn]
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

run "an_unknown_drain_timeout_result_is_rejected" {
  command = plan

  variables {
    drain_timeout_result = "TERMINATE"
  }

  expect_failures = [var.drain_timeout_result]
}

run "a_retention_cloudwatch_does_not_offer_is_rejected" {
  command = plan

  variables {
    log_retention_in_days = 45
  }

  expect_failures = [var.log_retention_in_days]
}

run "at_least_one_cluster_is_required" {
  command = plan

  variables {
    cluster_names = []
  }

  expect_failures = [var.cluster_names]
}

run "a_timeout_too_short_for_the_poll_loop_is_rejected" {
  command = plan

  variables {
    timeout      = 30
    poll_seconds = 15
  }

  expect_failures = [aws_cloudwatch_event_target.reconcile]
}

run "a_fallback_cluster_outside_the_managed_ones_is_rejected" {
  command = plan

  variables {
    fallback_cluster = "elsewhere"
  }

  expect_failures = [data.aws_iam_policy_document.lambda]
}

run "max_drain_beyond_the_auto_scaling_limit_is_rejected" {
  command = plan

  variables {
    max_drain_seconds = 200000
  }

  expect_failures = [var.max_drain_seconds]
}

run "a_reconcile_window_the_timeout_cannot_hold_is_rejected" {
  command = plan

  variables {
    timeout           = 60
    reconcile_seconds = 55
  }

  expect_failures = [aws_cloudwatch_event_target.reconcile]
}

run "thresholds_become_the_environment_scale_status_reads" {
  command = plan

  variables {
    cpu_min              = 40
    cpu_max              = 75
    memory_min           = 30.5
    memory_max           = 80
    consolidate_headroom = 2.5
  }

  assert {
    condition = {
      for key, value in module.lambda.function.environment[0].variables : key => value
      if contains(["CPU_MIN", "CPU_MAX", "MEMORY_MIN", "MEMORY_MAX", "CONSOLIDATE_HEADROOM"], key)
      } == {
      CPU_MIN              = "40"
      CPU_MAX              = "75"
      MEMORY_MIN           = "30.5"
      MEMORY_MAX           = "80"
      CONSOLIDATE_HEADROOM = "2.5"
    }
    error_message = "cpu_min, cpu_max, memory_min, memory_max and consolidate_headroom become CPU_MIN, CPU_MAX, MEMORY_MIN, MEMORY_MAX and CONSOLIDATE_HEADROOM. Got ${jsonencode(module.lambda.function.environment[0].variables)}"
  }
}

run "a_threshold_left_null_stays_out_of_the_environment" {
  command = plan

  variables {
    cpu_max = 90
  }

  assert {
    condition = (
      module.lambda.function.environment[0].variables["CPU_MAX"] == "90" &&
      length(setintersection(keys(module.lambda.function.environment[0].variables), ["CPU_MIN", "MEMORY_MIN", "MEMORY_MAX", "CONSOLIDATE_HEADROOM"])) == 0
    )
    error_message = "Only the thresholds given are set; the others keep the function's defaults. Got ${jsonencode(module.lambda.function.environment[0].variables)}"
  }
}

run "the_api_budget_becomes_environment_variables" {
  command = plan

  variables {
    ecs_api_share       = 0.05
    ecs_api_max_wait_ms = 750
  }

  assert {
    condition = (
      module.lambda.function.environment[0].variables["ECS_API_SHARE"] == "0.05" &&
      module.lambda.function.environment[0].variables["ECS_API_MAX_WAIT_MS"] == "750"
    )
    error_message = "ecs_api_share and ecs_api_max_wait_ms become ECS_API_SHARE and ECS_API_MAX_WAIT_MS."
  }
}

# The ends of the ranges the function accepts.
run "the_ends_of_the_ranges_are_accepted" {
  command = plan

  variables {
    cpu_min              = 0
    cpu_max              = 100
    memory_min           = 0
    memory_max           = 100
    consolidate_headroom = 0
    ecs_api_share        = 1
    ecs_api_max_wait_ms  = 0
  }

  assert {
    condition = (
      module.lambda.function.environment[0].variables["CPU_MIN"] == "0" &&
      module.lambda.function.environment[0].variables["CPU_MAX"] == "100" &&
      module.lambda.function.environment[0].variables["CONSOLIDATE_HEADROOM"] == "0" &&
      module.lambda.function.environment[0].variables["ECS_API_SHARE"] == "1" &&
      module.lambda.function.environment[0].variables["ECS_API_MAX_WAIT_MS"] == "0"
    )
    error_message = "0 and 100 are percentages, 0 points of headroom, a share of 1 and a wait of 0 ms are within range; a 0 is set, not dropped."
  }
}

run "a_threshold_above_100_is_rejected" {
  command = plan

  variables {
    cpu_max = 101
  }

  expect_failures = [var.cpu_max]
}

run "a_negative_threshold_is_rejected" {
  command = plan

  variables {
    memory_min = -5
  }

  expect_failures = [var.memory_min]
}

run "a_cpu_min_above_100_is_rejected" {
  command = plan

  variables {
    cpu_min = 150
  }

  expect_failures = [var.cpu_min]
}

run "a_memory_max_above_100_is_rejected" {
  command = plan

  variables {
    memory_max = 100.5
  }

  expect_failures = [var.memory_max]
}

run "a_headroom_above_100_is_rejected" {
  command = plan

  variables {
    consolidate_headroom = 120
  }

  expect_failures = [var.consolidate_headroom]
}

run "a_min_not_below_its_max_is_rejected" {
  command = plan

  variables {
    memory_min = 75
    memory_max = 75
  }

  expect_failures = [aws_lambda_permission.autoscaling]
}

# The function fills an unset end with its default: CPU_MIN 90 alone is not below the default CPU_MAX 85.
run "a_min_not_below_the_default_max_is_rejected" {
  command = plan

  variables {
    cpu_min = 90
  }

  expect_failures = [aws_lambda_permission.autoscaling]
}

run "a_max_below_the_default_min_is_rejected" {
  command = plan

  variables {
    memory_max = 50
  }

  expect_failures = [aws_lambda_permission.autoscaling]
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
    ecs_api_share = 2
  }

  expect_failures = [var.ecs_api_share]
}

run "a_negative_api_wait_is_rejected" {
  command = plan

  variables {
    ecs_api_max_wait_ms = -100
  }

  expect_failures = [var.ecs_api_max_wait_ms]
}

run "a_fractional_api_wait_is_rejected" {
  command = plan

  variables {
    ecs_api_max_wait_ms = 0.5
  }

  expect_failures = [var.ecs_api_max_wait_ms]
}

run "an_api_wait_as_long_as_the_timeout_is_rejected" {
  command = plan

  variables {
    ecs_api_max_wait_ms = 120000
  }

  expect_failures = [aws_cloudwatch_event_target.reconcile]
}
