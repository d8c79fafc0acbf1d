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
  uses_customer_managed_key     = var.sns_kms_key_arn != null
  # Auto Scaling invokes a custom termination policy as the groups' service-linked role, not as a service principal.
  autoscaling_service_role_arn = coalesce(
    var.autoscaling_service_role_arn,
    "arn:${local.partition}:iam::${local.account}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling",
  )

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
      # The limits the termination policy judges a scale-in by, the same variables scale-status reads (a
      # cluster's ecs-scaler:* tags override them). Unset ones are left out: the function's defaults apply.
      CPU_MIN              = var.cpu_min == null ? null : tostring(var.cpu_min)
      CPU_MAX              = var.cpu_max == null ? null : tostring(var.cpu_max)
      MEMORY_MIN           = var.memory_min == null ? null : tostring(var.memory_min)
      MEMORY_MAX           = var.memory_max == null ? null : tostring(var.memory_max)
      CONSOLIDATE_HEADROOM = var.consolidate_headroom == null ? null : tostring(var.consolidate_headroom)
      # The client-side ECS budget: a share of each of the account's throttling buckets, and the longest wait
      # for a token before a call fails.
      ECS_API_SHARE       = tostring(var.ecs_api_share)
      ECS_API_MAX_WAIT_MS = tostring(var.ecs_api_max_wait_ms)
      RUST_LOG            = var.log_level
    } : key => value if value != null && value != ""
  }

  # The function resolves its environment's thresholds at its cold start, filling the unset ones with its
  # defaults (60/85), and fails there if a min is not below its max.
  default_cpu    = { min = 60, max = 85 }
  default_memory = { min = 60, max = 85 }
  cpu_limits     = { min = coalesce(var.cpu_min, local.default_cpu.min), max = coalesce(var.cpu_max, local.default_cpu.max) }
  memory_limits  = { min = coalesce(var.memory_min, local.default_memory.min), max = coalesce(var.memory_max, local.default_memory.max) }
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
  endpoint  = module.lambda.function_arn
}

resource "aws_lambda_permission" "sns" {
  statement_id  = "AllowLifecycleNotifications"
  action        = "lambda:InvokeFunction"
  function_name = module.lambda.function_name
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
  arn       = module.lambda.function_arn

  # Each invocation from here polls every poll_seconds for reconcile_seconds: the function's timeout must hold it.
  lifecycle {
    precondition {
      condition     = var.timeout >= 3 * var.poll_seconds
      error_message = "timeout (${var.timeout} s) must allow at least three polls of poll_seconds (${var.poll_seconds} s)."
    }
    precondition {
      condition     = var.timeout >= var.reconcile_seconds + var.poll_seconds + 10
      error_message = "timeout (${var.timeout} s) must outlast a reconcile's window (reconcile_seconds ${var.reconcile_seconds} s) plus its last check (poll_seconds ${var.poll_seconds} s) and 10 s."
    }
    # One ECS call waiting for its token as long as the function may run would end the invocation in a timeout.
    precondition {
      condition     = var.ecs_api_max_wait_ms < var.timeout * 1000
      error_message = "ecs_api_max_wait_ms (${var.ecs_api_max_wait_ms} ms) must be shorter than the function's timeout (${var.timeout} s): a call waiting that long for its ECS budget would time the invocation out."
    }
  }
}

resource "aws_lambda_permission" "reconcile" {
  statement_id  = "AllowReconcileSchedule"
  action        = "lambda:InvokeFunction"
  function_name = module.lambda.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.reconcile.arn
}

################################################################################
# Custom termination policy: Auto Scaling asks which instances go
################################################################################

# The groups list the function first in their termination_policies (termination_policy_arn). AWS documents the
# principal as the service-linked role the group uses, and no source condition; the permission is on the
# unpublished function, which is what an unqualified ARN in termination_policies requires.
resource "aws_lambda_permission" "autoscaling" {
  statement_id  = "AllowInvokeByAutoScaling"
  action        = "lambda:InvokeFunction"
  function_name = module.lambda.function_name
  principal     = local.autoscaling_service_role_arn

  lifecycle {
    # A min not below its max (an unset end being the function's default) fails every cold start of the function.
    precondition {
      condition     = local.cpu_limits.min < local.cpu_limits.max
      error_message = "cpu_min (${local.cpu_limits.min}${var.cpu_min == null ? ", the default" : ""}) must be below cpu_max (${local.cpu_limits.max}${var.cpu_max == null ? ", the default" : ""}): the function would fail its cold start."
    }
    precondition {
      condition     = local.memory_limits.min < local.memory_limits.max
      error_message = "memory_min (${local.memory_limits.min}${var.memory_min == null ? ", the default" : ""}) must be below memory_max (${local.memory_limits.max}${var.memory_max == null ? ", the default" : ""}): the function would fail its cold start."
    }
  }
}

################################################################################
# Function
################################################################################

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
    sid = "ReadTaskSizes"
    # The termination policy's choice: whether an instance's tasks fit on the instances that stay.
    # DescribeTaskDefinition supports no resource-level permissions.
    actions   = ["ecs:DescribeTaskDefinition"]
    resources = ["*"]
  }

  statement {
    sid = "InstanceTypesOfAwsvpcMoves"
    # The termination policy judges whether an awsvpc task can move: the ENI limit of each instance's type.
    # Read only when a removal would move an awsvpc task, and kept per warm process. EC2's Describe* actions
    # support no resource-level permissions.
    actions   = ["ec2:DescribeInstanceTypes"]
    resources = ["*"]
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
    resources = ["${module.lambda.log_group_arn}:*"]
  }

  # The grants above reach cluster_names only: a fallback cluster outside them could not be drained.
  lifecycle {
    precondition {
      condition     = var.fallback_cluster == null || contains(var.cluster_names, coalesce(var.fallback_cluster, "-"))
      error_message = "fallback_cluster must be one of cluster_names, or the function could not drain it."
    }
  }
}

module "lambda" {
  source = "../_lambda"

  name                           = var.name
  description                    = "Chooses which ECS container instances of ${join(", ", var.cluster_names)} go (custom termination policy) and holds them in Terminating:Wait until their services stay above their minimum."
  zip_path                       = var.zip_path
  assume_role_statement_id       = "LambdaRunsTheDrainHook"
  policy_name                    = "drain-ecs-container-instances"
  policy_json                    = data.aws_iam_policy_document.lambda.json
  environment                    = local.environment
  timeout                        = var.timeout
  memory_size                    = var.memory_size
  reserved_concurrent_executions = var.reserved_concurrent_executions
  log_retention_in_days          = var.log_retention_in_days
  log_kms_key_arn                = var.log_kms_key_arn
  errors_alarm_enabled           = var.errors_alarm_enabled
  errors_alarm_description       = "The ${var.name} Lambda is failing: terminating instances may not be drained."
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
  from = aws_lambda_function.drain
  to   = module.lambda.aws_lambda_function.this
}

moved {
  from = aws_cloudwatch_metric_alarm.errors
  to   = module.lambda.aws_cloudwatch_metric_alarm.errors
}
