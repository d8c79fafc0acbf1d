# The parts both ecs-scaler Lambdas share: the function (provided.al2023, the Rust bootstrap), its execution role
# with the calling module's inline policy, its log group and its Errors alarm. Internal: the public modules
# (scale-status, drain-hook) own the policy document, the triggers and every input a user sets.

data "aws_iam_policy_document" "assume" {
  statement {
    sid     = var.assume_role_statement_id
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "${var.name}-lambda"
  description        = "Execution role of the ${var.name} Lambda."
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "this" {
  name   = var.policy_name
  role   = aws_iam_role.this.id
  policy = var.policy_json
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Retention is the log_retention_in_days variable (default 30 days); these are operational logs, not audit records.
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:No DLQ needed: both functions run every minute and the next run redoes a failed one's work (scale-status: the next tick supersedes it, and the alarms treat the gap as missing data; drain-hook: the reconcile re-reads every instance in Terminating:Wait).
  #checkov:skip=CKV_AWS_117:The function only calls AWS APIs; a VPC would add NAT or endpoints and no protection.
  #checkov:skip=CKV_AWS_173:The environment holds no secrets (cluster and group names, thresholds, durations, a log filter); Lambda encrypts it at rest with an AWS managed key.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile the project does not have; the zip comes from the project's own build.
  #checkov:skip=CKV_AWS_50:The Rust runtime emits no X-Ray segments; the functions are observed through their metrics (ScaleStatus, the drain metrics) and JSON logs.
  function_name    = var.name
  description      = var.description
  role             = aws_iam_role.this.arn
  filename         = var.zip_path
  source_code_hash = filebase64sha256(var.zip_path)
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = ["x86_64"]
  timeout          = var.timeout
  memory_size      = var.memory_size

  reserved_concurrent_executions = var.reserved_concurrent_executions

  environment {
    variables = var.environment
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.this.name
  }

  tags = var.tags

  # Permissions first: a schedule or topic may invoke the function as soon as it exists.
  depends_on = [aws_iam_role_policy.this]
}

resource "aws_cloudwatch_metric_alarm" "errors" {
  count = var.errors_alarm_enabled ? 1 : 0

  alarm_name          = "${var.name}-errors"
  alarm_description   = var.errors_alarm_description
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.this.function_name }
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
