data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition = data.aws_partition.current.partition
  # `id` holds the region name; `name` is deprecated from provider 6.x on.
  region  = data.aws_region.current.id
  account = data.aws_caller_identity.current.account_id

  ecs_arn_prefix                = "arn:${local.partition}:ecs:${local.region}:${local.account}"
  cluster_arns                  = [for cluster in var.cluster_names : "${local.ecs_arn_prefix}:cluster/${cluster}"]
  container_instance_arns       = [for cluster in var.cluster_names : "${local.ecs_arn_prefix}:container-instance/${cluster}/*"]
  task_arns                     = [for cluster in var.cluster_names : "${local.ecs_arn_prefix}:task/${cluster}/*"]
  service_arns                  = [for cluster in var.cluster_names : "${local.ecs_arn_prefix}:service/${cluster}/*"]
  autoscaling_group_arn_pattern = "arn:${local.partition}:autoscaling:${local.region}:${local.account}:autoScalingGroup:*:autoScalingGroupName/*"
  log_group_name                = "/aws/lambda/${var.name}"
  uses_customer_managed_key     = var.sns_kms_key_arn != null

  environment = {
    for key, value in {
      SCALE_NAMESPACE      = var.namespace
      CLUSTERS             = join(",", var.cluster_names)
      ASG_NAMES            = join(",", var.asg_names)
      CLUSTER              = var.fallback_cluster
      POLL_SECONDS         = tostring(var.poll_seconds)
      RECONCILE_SECONDS    = tostring(var.reconcile_seconds)
      MAX_DRAIN_SECONDS    = tostring(var.max_drain_seconds)
      DRAIN_TIMEOUT_RESULT = var.drain_timeout_result
      LIFECYCLE_HOOK_NAME  = var.lifecycle_hook_name
      RUST_LOG             = var.log_level
    } : key => value if value != null && value != ""
  }
}

################################################################################
# Lifecycle notifications: ASG -> SNS -> Lambda
################################################################################

resource "aws_sns_topic" "lifecycle" {
  name              = var.name
  kms_master_key_id = coalesce(var.sns_kms_key_arn, "alias/aws/sns")
  tags              = var.tags
}

data "aws_iam_policy_document" "autoscaling_assume" {
  statement {
    sid     = "AutoScalingPublishesLifecycleNotifications"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["autoscaling.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "autoscaling" {
  name               = "${var.name}-asg"
  description        = "Assumed by EC2 Auto Scaling to publish lifecycle hook notifications to ${var.name}."
  assume_role_policy = data.aws_iam_policy_document.autoscaling_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "autoscaling_publish" {
  statement {
    sid       = "PublishLifecycleNotifications"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.lifecycle.arn]
  }

  # The AWS managed alias/aws/sns key needs no grant here: its key policy already admits account principals
  # that use it through SNS. A customer managed key does.
  dynamic "statement" {
    for_each = local.uses_customer_managed_key ? [var.sns_kms_key_arn] : []

    content {
      sid       = "EncryptLifecycleNotifications"
      actions   = ["kms:GenerateDataKey*", "kms:Decrypt"]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["sns.${local.region}.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role_policy" "autoscaling_publish" {
  name   = "publish-lifecycle-notifications"
  role   = aws_iam_role.autoscaling.id
  policy = data.aws_iam_policy_document.autoscaling_publish.json
}

resource "aws_sns_topic_subscription" "drain" {
  topic_arn = aws_sns_topic.lifecycle.arn
  protocol  = "lambda"
  endpoint  = aws_lambda_function.drain.arn
}

resource "aws_lambda_permission" "sns" {
  statement_id  = "AllowLifecycleNotifications"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.drain.function_name
  principal     = "sns.amazonaws.com"
  source_arn    = aws_sns_topic.lifecycle.arn
}

################################################################################
# Reconcile: every minute, level-triggered
################################################################################

resource "aws_cloudwatch_event_rule" "reconcile" {
  name                = "${var.name}-reconcile"
  description         = "Reconciles draining ECS container instances of ${join(", ", var.cluster_names)}."
  schedule_expression = var.reconcile_schedule_expression
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "reconcile" {
  rule      = aws_cloudwatch_event_rule.reconcile.name
  target_id = "drain-hook"
  arn       = aws_lambda_function.drain.arn
}

resource "aws_lambda_permission" "reconcile" {
  statement_id  = "AllowReconcileSchedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.drain.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.reconcile.arn
}

################################################################################
# Function
################################################################################

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    sid     = "LambdaRunsTheDrainHook"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "lambda" {
  name               = "${var.name}-lambda"
  description        = "Execution role of the ${var.name} Lambda."
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "lambda" {
  statement {
    sid = "DescribeAutoScaling"
    actions = [
      "autoscaling:DescribeAutoScalingGroups",
      "autoscaling:DescribeAutoScalingInstances",
      "autoscaling:DescribeLifecycleHooks",
    ]
    # Auto Scaling's Describe* actions support no resource-level permissions.
    resources = ["*"]
  }

  statement {
    sid = "CompleteLifecycleActionsOfManagedGroups"
    actions = [
      "autoscaling:CompleteLifecycleAction",
      "autoscaling:RecordLifecycleActionHeartbeat",
    ]
    resources = [local.autoscaling_group_arn_pattern]

    condition {
      test     = "StringEquals"
      variable = "autoscaling:ResourceTag/ecs-scaler:cluster"
      values   = var.cluster_names
    }
  }

  statement {
    sid       = "ReadManagedClusters"
    actions   = ["ecs:DescribeClusters"]
    resources = local.cluster_arns
  }

  # An instance missing from its resolved cluster is looked up in every cluster before it is released as
  # never registered: a wrong cluster mapping must hold it, not let it go with its tasks.
  statement {
    sid     = "FindInstancesInAnyCluster"
    actions = ["ecs:ListClusters"]
    # ListClusters supports no resource-level permissions and no condition keys.
    resources = ["*"]
  }

  statement {
    sid       = "ListContainerInstancesOfAnyCluster"
    actions   = ["ecs:ListContainerInstances"]
    resources = ["${local.ecs_arn_prefix}:cluster/*"]
  }

  statement {
    sid = "DrainContainerInstances"
    actions = [
      "ecs:DescribeContainerInstances",
      "ecs:PutAttributes",
      "ecs:UpdateContainerInstancesState",
    ]
    resources = local.container_instance_arns
  }

  statement {
    sid       = "DescribeTasks"
    actions   = ["ecs:DescribeTasks"]
    resources = local.task_arns
  }

  statement {
    sid       = "DescribeServices"
    actions   = ["ecs:DescribeServices"]
    resources = local.service_arns
  }

  statement {
    sid = "ListWithinManagedClusters"
    actions = [
      "ecs:ListServices",
      "ecs:ListTasks",
    ]
    # ListServices has no resource type, and ListTasks' only one is the optional container-instance filter:
    # the cluster condition is what scopes them.
    resources = ["*"]

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = local.cluster_arns
    }
  }

  statement {
    sid     = "PublishDrainMetrics"
    actions = ["cloudwatch:PutMetricData"]
    # PutMetricData has no resource type; the namespace condition is its scope.
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = [var.namespace]
    }
  }

  statement {
    sid = "WriteOwnLogs"
    actions = [
      "logs:CreateLogStream",
      "logs:PutLogEvents",
    ]
    resources = ["${aws_cloudwatch_log_group.lambda.arn}:*"]
  }
}

resource "aws_iam_role_policy" "lambda" {
  name   = "drain-ecs-container-instances"
  role   = aws_iam_role.lambda.id
  policy = data.aws_iam_policy_document.lambda.json
}

resource "aws_cloudwatch_log_group" "lambda" {
  #checkov:skip=CKV_AWS_338:Retention is the log_retention_in_days variable (default 30 days); these are operational logs, not audit records.
  name              = local.log_group_name
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

resource "aws_lambda_function" "drain" {
  #checkov:skip=CKV_AWS_116:No DLQ needed: the reconcile every minute re-reads every instance in Terminating:Wait, so a lost invocation is picked up a minute later.
  #checkov:skip=CKV_AWS_117:The function only calls AWS APIs; a VPC would add NAT or endpoints and no protection.
  #checkov:skip=CKV_AWS_173:The environment holds no secrets (names, numbers, a log filter); Lambda encrypts it at rest with an AWS managed key.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile the project does not have; the zip comes from the project's own build.
  #checkov:skip=CKV_AWS_50:The Rust runtime emits no X-Ray segments; the drain is observed through its metrics and JSON logs.
  function_name    = var.name
  description      = "Holds terminating ECS container instances of ${join(", ", var.cluster_names)} in Terminating:Wait until their services stay above their minimum."
  role             = aws_iam_role.lambda.arn
  filename         = var.zip_path
  source_code_hash = filebase64sha256(var.zip_path)
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = ["x86_64"]
  timeout          = var.timeout
  memory_size      = var.memory_size

  reserved_concurrent_executions = var.reserved_concurrent_executions

  environment {
    variables = local.environment
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.lambda.name
  }

  tags = var.tags

  # Permissions first: the schedule may invoke the function as soon as it exists.
  depends_on = [aws_iam_role_policy.lambda]

  lifecycle {
    precondition {
      condition     = var.timeout >= 3 * var.poll_seconds
      error_message = "timeout (${var.timeout} s) must allow at least three polls of poll_seconds (${var.poll_seconds} s)."
    }
    precondition {
      condition     = var.timeout >= var.reconcile_seconds + var.poll_seconds + 10
      error_message = "timeout (${var.timeout} s) must outlast a reconcile's window (reconcile_seconds ${var.reconcile_seconds} s) plus its last check (poll_seconds ${var.poll_seconds} s) and 10 s."
    }
    precondition {
      condition     = var.fallback_cluster == null || contains(var.cluster_names, coalesce(var.fallback_cluster, "-"))
      error_message = "fallback_cluster must be one of cluster_names, or the function could not drain it."
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "errors" {
  count = var.errors_alarm_enabled ? 1 : 0

  alarm_name          = "${var.name}-errors"
  alarm_description   = "The ${var.name} Lambda is failing: terminating instances may not be drained."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.drain.function_name }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  # No invocations means no errors.
  treat_missing_data = "notBreaching"
  alarm_actions      = var.alarm_actions
  ok_actions         = var.alarm_actions
  tags               = var.tags
}
