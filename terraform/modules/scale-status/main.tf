data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition = data.aws_partition.current.partition
  # `id` holds the region name; `name` is deprecated from provider 6.x on.
  region         = data.aws_region.current.id
  account        = data.aws_caller_identity.current.account_id
  ecs_arn_prefix = "arn:${local.partition}:ecs:${local.region}:${local.account}"

  log_group_name = "/aws/lambda/${var.name}"

  # A deployment that names its clusters manages exactly those (the function never lists the account then), and
  # its grants reach only them. Naming none means discovery by the ecs-scaler:enabled tag, which must see all.
  named_clusters = distinct(concat(var.settings.clusters, [for cluster in var.clusters : cluster.name]))
  discovers      = length(local.named_clusters) == 0
  cluster_arns   = local.discovers ? ["${local.ecs_arn_prefix}:cluster/*"] : [for c in local.named_clusters : "${local.ecs_arn_prefix}:cluster/${c}"]
  service_arns   = local.discovers ? ["${local.ecs_arn_prefix}:service/*"] : [for c in local.named_clusters : "${local.ecs_arn_prefix}:service/${c}/*"]
  container_instance_arns = local.discovers ? ["${local.ecs_arn_prefix}:container-instance/*"] : [
    for c in local.named_clusters : "${local.ecs_arn_prefix}:container-instance/${c}/*"
  ]

  # Unset and empty values are left out: the function treats an absent variable as "use the default".
  environment = {
    for key, value in {
      SCALE_NAMESPACE     = var.namespace
      CLUSTERS            = join(",", var.settings.clusters)
      CPU_MIN             = var.settings.cpu_min == null ? null : tostring(var.settings.cpu_min)
      CPU_MAX             = var.settings.cpu_max == null ? null : tostring(var.settings.cpu_max)
      MEMORY_MIN          = var.settings.memory_min == null ? null : tostring(var.settings.memory_min)
      MEMORY_MAX          = var.settings.memory_max == null ? null : tostring(var.settings.memory_max)
      PLACEMENT_CHECK     = var.settings.placement_check == null ? null : tostring(var.settings.placement_check)
      LOOKBACK_SECONDS    = var.settings.lookback_seconds == null ? null : tostring(var.settings.lookback_seconds)
      STALE_AFTER_SECONDS = var.settings.stale_after_seconds == null ? null : tostring(var.settings.stale_after_seconds)
      RUST_LOG            = var.log_level
    } : key => value if value != null && value != ""
  }

  # The schedule's constant input, e.g.
  # {"clusters":[{"cpu":{"max":75,"min":40},"memory":{"max":75,"min":40},"name":"default"}],"namespace":"Curalate/AutoScaling"}
  # Thresholds a cluster does not set are left out, so the environment defaults and cluster tags still apply.
  schedule_input = length(var.clusters) == 0 ? null : jsonencode({
    namespace = var.namespace
    clusters = [
      for cluster in var.clusters : merge(
        { name = cluster.name },
        cluster.cpu == null ? {} : { cpu = { min = cluster.cpu.min, max = cluster.cpu.max } },
        cluster.memory == null ? {} : { memory = { min = cluster.memory.min, max = cluster.memory.max } },
      )
    ]
  })
}

################################################################################
# Schedule
################################################################################

resource "aws_cloudwatch_event_rule" "tick" {
  name                = "${var.name}-tick"
  description         = "Publishes ScaleStatus for the managed ECS clusters."
  schedule_expression = var.schedule_expression
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "tick" {
  rule      = aws_cloudwatch_event_rule.tick.name
  target_id = "scale-status"
  arn       = aws_lambda_function.scale_status.arn
  input     = local.schedule_input
}

resource "aws_lambda_permission" "tick" {
  statement_id  = "AllowScaleStatusSchedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.scale_status.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.tick.arn
}

################################################################################
# Function
################################################################################

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    sid     = "LambdaRunsScaleStatus"
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
    sid     = "ReadReservationMetrics"
    actions = ["cloudwatch:GetMetricData"]
    # GetMetricData supports no resource-level permissions and no condition keys.
    resources = ["*"]
  }

  statement {
    sid     = "PublishScaleStatus"
    actions = ["cloudwatch:PutMetricData"]
    # PutMetricData has no resource type; the namespace condition is its scope.
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = [var.namespace]
    }
  }

  dynamic "statement" {
    for_each = local.discovers ? [1] : []

    content {
      sid     = "ListClusters"
      actions = ["ecs:ListClusters"]
      # Only for discovery: ListClusters supports no resource-level permissions, and clusters opt in by tag.
      resources = ["*"]
    }
  }

  statement {
    sid       = "DescribeClusters"
    actions   = ["ecs:DescribeClusters"]
    resources = local.cluster_arns
  }

  statement {
    sid = "ListWithinManagedClusters"
    # The placement check's services, and the guard's DRAINING instances (one page, only when consulted).
    actions = [
      "ecs:ListContainerInstances",
      "ecs:ListServices",
    ]
    # ListServices has no resource type; the condition keeps both to the managed clusters.
    resources = ["*"]

    condition {
      test     = "ArnLike"
      variable = "ecs:cluster"
      values   = local.cluster_arns
    }
  }

  statement {
    sid       = "DescribeServices"
    actions   = ["ecs:DescribeServices"]
    resources = local.service_arns
  }

  statement {
    sid = "SizeUpUnplacedTasks"
    # For services ECS could not place: the registered instances' sizes...
    actions   = ["ecs:DescribeContainerInstances"]
    resources = local.container_instance_arns
  }

  statement {
    sid = "ReadTaskSizes"
    # ...and their task definitions' sizes. DescribeTaskDefinition supports no resource-level permissions.
    actions   = ["ecs:DescribeTaskDefinition"]
    resources = ["*"]
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
  name   = "publish-scale-status"
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

resource "aws_lambda_function" "scale_status" {
  #checkov:skip=CKV_AWS_116:No DLQ needed: a failed tick is superseded by the next one a minute later, and the alarms treat the gap as missing data.
  #checkov:skip=CKV_AWS_117:The function only calls AWS APIs; a VPC would add NAT or endpoints and no protection.
  #checkov:skip=CKV_AWS_173:The environment holds no secrets (cluster names, thresholds, a log filter); Lambda encrypts it at rest with an AWS managed key.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile the project does not have; the zip comes from the project's own build.
  #checkov:skip=CKV_AWS_50:The Rust runtime emits no X-Ray segments; the function is observed through ScaleStatus and its JSON logs.
  function_name    = var.name
  description      = "Publishes the ScaleStatus metric (0 scale down, 1 stay, 2 scale up) for the managed ECS clusters."
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
}

resource "aws_cloudwatch_metric_alarm" "errors" {
  count = var.errors_alarm_enabled ? 1 : 0

  alarm_name          = "${var.name}-errors"
  alarm_description   = "The ${var.name} Lambda is failing: ScaleStatus goes missing and the clusters stop scaling."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.scale_status.function_name }
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
