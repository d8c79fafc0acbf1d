data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition = data.aws_partition.current.partition
  # `id` holds the region name; `name` is deprecated from provider 6.x on.
  region         = data.aws_region.current.id
  account        = data.aws_caller_identity.current.account_id
  ecs_arn_prefix = "arn:${local.partition}:ecs:${local.region}:${local.account}"

  # A deployment that names its clusters manages exactly those (the function never lists the account then), and
  # its grants reach only them. Naming none means discovery by the ecs-scaler:enabled tag, which must see all.
  named_clusters = distinct(concat(var.settings.clusters, [for cluster in var.clusters : cluster.name]))
  discovers      = length(local.named_clusters) == 0
  cluster_arns   = local.discovers ? ["${local.ecs_arn_prefix}:cluster/*"] : [for c in local.named_clusters : "${local.ecs_arn_prefix}:cluster/${c}"]
  service_arns   = local.discovers ? ["${local.ecs_arn_prefix}:service/*"] : [for c in local.named_clusters : "${local.ecs_arn_prefix}:service/${c}/*"]
  container_instance_arns = local.discovers ? ["${local.ecs_arn_prefix}:container-instance/*"] : [
    for c in local.named_clusters : "${local.ecs_arn_prefix}:container-instance/${c}/*"
  ]
  task_arns = local.discovers ? ["${local.ecs_arn_prefix}:task/*"] : [for c in local.named_clusters : "${local.ecs_arn_prefix}:task/${c}/*"]
  # Group names are the blue/green module's; what makes a group ours is its ecs-scaler:cluster tag (conditions below).
  autoscaling_group_arns = ["arn:${local.partition}:autoscaling:${local.region}:${local.account}:autoScalingGroup:*:autoScalingGroupName/*"]

  # The placement-failure rule: ECS's service action event for the managed clusters (any cluster when discovering;
  # the function ignores clusters it does not manage).
  placement_failure_pattern = jsonencode({
    source        = ["aws.ecs"]
    "detail-type" = ["ECS Service Action"]
    detail = merge(
      { eventName = ["SERVICE_TASK_PLACEMENT_FAILURE"] },
      local.discovers ? {} : { clusterArn = local.cluster_arns },
    )
  })

  # Unset and empty values are left out: the function treats an absent variable as "use the default".
  environment = {
    for key, value in {
      SCALE_NAMESPACE      = var.namespace
      CLUSTERS             = join(",", var.settings.clusters)
      CPU_MIN              = var.settings.cpu_min == null ? null : tostring(var.settings.cpu_min)
      CPU_MAX              = var.settings.cpu_max == null ? null : tostring(var.settings.cpu_max)
      MEMORY_MIN           = var.settings.memory_min == null ? null : tostring(var.settings.memory_min)
      MEMORY_MAX           = var.settings.memory_max == null ? null : tostring(var.settings.memory_max)
      PLACEMENT_CHECK      = var.settings.placement_check == null ? null : tostring(var.settings.placement_check)
      LOOKBACK_SECONDS     = var.settings.lookback_seconds == null ? null : tostring(var.settings.lookback_seconds)
      STALE_AFTER_SECONDS  = var.settings.stale_after_seconds == null ? null : tostring(var.settings.stale_after_seconds)
      CONSOLIDATE          = tostring(var.consolidate)
      CONSOLIDATE_HEADROOM = tostring(var.consolidate_headroom)
      # Disruption controls: how many instances with tasks drain voluntarily at once, and when none may.
      DISRUPTION_BUDGET  = var.disruption_budget
      DISRUPTION_WINDOWS = join(" + ", var.disruption_windows)
      # The least time between two event-triggered evaluations of a cluster (its ecs-scaler:evaluated-at tag).
      EVENT_MIN_INTERVAL_SECONDS = tostring(var.event_min_interval_seconds)
      # How long a steady cluster's verdict is published again without reading it deeply.
      RESYNC_SECONDS = tostring(var.resync_seconds)
      # The client-side ECS budget: a share of each of the account's throttling buckets, and the longest wait
      # for a token before the cluster is deferred to the next tick.
      ECS_API_SHARE       = tostring(var.ecs_api_share)
      ECS_API_MAX_WAIT_MS = tostring(var.ecs_api_max_wait_ms)
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
  arn       = module.lambda.function_arn
  input     = local.schedule_input

  # One ECS call waiting for its token as long as the function may run would end the tick in a timeout rather
  # than a deferral.
  lifecycle {
    precondition {
      condition     = var.ecs_api_max_wait_ms < var.timeout * 1000
      error_message = "ecs_api_max_wait_ms (${var.ecs_api_max_wait_ms} ms) must be shorter than the function's timeout (${var.timeout} s): a call waiting that long for its ECS budget would time the tick out instead of deferring the cluster."
    }
  }
}

resource "aws_lambda_permission" "tick" {
  statement_id  = "AllowScaleStatusSchedule"
  action        = "lambda:InvokeFunction"
  function_name = module.lambda.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.tick.arn
}

################################################################################
# Placement failures: ECS could not place a service's task, evaluate that cluster now
################################################################################

resource "aws_cloudwatch_event_rule" "placement_failure" {
  name          = "${var.name}-placement"
  description   = "Evaluates an ECS cluster at once when ECS cannot place a service's task there."
  event_pattern = local.placement_failure_pattern
  tags          = var.tags
}

resource "aws_cloudwatch_event_target" "placement_failure" {
  rule      = aws_cloudwatch_event_rule.placement_failure.name
  target_id = "scale-status"
  arn       = module.lambda.function_arn
}

resource "aws_lambda_permission" "placement_failure" {
  statement_id  = "AllowScaleStatusPlacementFailures"
  action        = "lambda:InvokeFunction"
  function_name = module.lambda.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.placement_failure.arn
}

################################################################################
# Function
################################################################################

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
    sid = "TagEvaluatedClusters"
    # An event-triggered evaluation records its time on the cluster (the throttle's only state). The tag key
    # condition keeps the function from writing any other tag, the resources from tagging other clusters.
    actions   = ["ecs:TagResource"]
    resources = local.cluster_arns

    condition {
      test     = "ForAllValues:StringEquals"
      variable = "aws:TagKeys"
      values   = ["ecs-scaler:evaluated-at"]
    }
  }

  statement {
    sid = "ListWithinManagedClusters"
    # The placement check's services, the guard's DRAINING instances, and consolidation's instances and their
    # tasks (ListTasks with the containerInstance filter).
    actions = [
      "ecs:ListContainerInstances",
      "ecs:ListServices",
      "ecs:ListTasks",
    ]
    # ListServices has no resource type, and ListTasks' only one is its optional container-instance filter; the
    # condition keeps all three to the managed clusters.
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
    sid = "DescribeTasks"
    # Consolidation: what runs on each instance, to see whether it fits on the others.
    actions   = ["ecs:DescribeTasks"]
    resources = local.task_arns
  }

  statement {
    sid = "ReadTaskSizes"
    # ...and their task definitions' sizes. DescribeTaskDefinition supports no resource-level permissions.
    actions   = ["ecs:DescribeTaskDefinition"]
    resources = ["*"]
  }

  statement {
    sid = "SizeFreshInstances"
    # Sizing fresh instances: which instance type a group's launch template launches, and what a type offers
    # (vCPUs, memory, network interfaces for awsvpc tasks, GPUs). Read only when tasks wait (or, for the types,
    # when a removal moves an awsvpc task), and kept per warm process. EC2's Describe* actions support no
    # resource-level permissions.
    actions   = ["ec2:DescribeLaunchTemplateVersions", "ec2:DescribeInstanceTypes"]
    resources = ["*"]
  }

  statement {
    sid     = "FindShortfallPolicies"
    actions = ["autoscaling:DescribeAutoScalingGroups"]
    # Auto Scaling's Describe* actions support no resource-level permissions. The function filters by the
    # ecs-scaler:cluster tag key: the groups' instances launching or leaving, and their shortfall policies.
    resources = ["*"]
  }

  statement {
    sid = "ExecuteShortfallPolicies"
    # Sized scale-out: the serving group's step policy, with the shortfall as the metric value.
    actions   = ["autoscaling:ExecutePolicy"]
    resources = local.autoscaling_group_arns

    # Only groups tagged for a managed cluster; when discovering, any group tagged for a cluster at all.
    dynamic "condition" {
      for_each = local.discovers ? [] : [1]

      content {
        test     = "StringEquals"
        variable = "autoscaling:ResourceTag/ecs-scaler:cluster"
        values   = local.named_clusters
      }
    }
    dynamic "condition" {
      for_each = local.discovers ? [1] : []

      content {
        test     = "Null"
        variable = "autoscaling:ResourceTag/ecs-scaler:cluster"
        values   = ["false"]
      }
    }
  }

  statement {
    sid = "WriteOwnLogs"
    actions = [
      "logs:CreateLogStream",
      "logs:PutLogEvents",
    ]
    resources = ["${module.lambda.log_group_arn}:*"]
  }
}

module "lambda" {
  source = "../_lambda"

  name                           = var.name
  description                    = "Publishes ScaleStatus (0 scale down, 1 stay, 2 scale up) and InstancesShortfall for the managed ECS clusters, and asks the serving group's step policy for the shortfall."
  zip_path                       = var.zip_path
  assume_role_statement_id       = "LambdaRunsScaleStatus"
  policy_name                    = "publish-scale-status"
  policy_json                    = data.aws_iam_policy_document.lambda.json
  environment                    = local.environment
  timeout                        = var.timeout
  memory_size                    = var.memory_size
  reserved_concurrent_executions = var.reserved_concurrent_executions
  log_retention_in_days          = var.log_retention_in_days
  log_kms_key_arn                = var.log_kms_key_arn
  errors_alarm_enabled           = var.errors_alarm_enabled
  errors_alarm_description       = "The ${var.name} Lambda is failing: ScaleStatus goes missing and the clusters stop scaling."
  alarm_actions                  = var.alarm_actions
  tags                           = var.tags
}

# Where the function's resources lived before they moved into ../_lambda: existing states follow them there.
moved {
  from = aws_iam_role.lambda
  to   = module.lambda.aws_iam_role.this
}

moved {
  from = aws_iam_role_policy.lambda
  to   = module.lambda.aws_iam_role_policy.this
}

moved {
  from = aws_cloudwatch_log_group.lambda
  to   = module.lambda.aws_cloudwatch_log_group.this
}

moved {
  from = aws_lambda_function.scale_status
  to   = module.lambda.aws_lambda_function.this
}

moved {
  from = aws_cloudwatch_metric_alarm.errors
  to   = module.lambda.aws_cloudwatch_metric_alarm.errors
}
