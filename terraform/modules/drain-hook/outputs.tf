output "notification_target_arn" {
  description = "ARN of the SNS topic lifecycle hooks notify (the blue/green module's drain_hook_notification_target_arn)."
  value       = aws_sns_topic.lifecycle.arn
  # AWS sends a test notification when a lifecycle hook is created and rejects the hook if the role cannot publish yet.
  depends_on = [aws_iam_role_policy.autoscaling_publish]
}

output "role_arn" {
  description = "ARN of the role Auto Scaling assumes to publish to the topic (the blue/green module's drain_hook_role_arn)."
  value       = aws_iam_role.autoscaling.arn
  # AWS sends a test notification when a lifecycle hook is created and rejects the hook if the role cannot publish yet.
  depends_on = [aws_iam_role_policy.autoscaling_publish]
}

output "function_name" {
  description = "Name of the drain Lambda."
  value       = aws_lambda_function.drain.function_name
}

output "function_arn" {
  description = "ARN of the drain Lambda."
  value       = aws_lambda_function.drain.arn
}

output "lambda_role_arn" {
  description = "ARN of the drain Lambda's execution role."
  value       = aws_iam_role.lambda.arn
}

output "log_group_name" {
  description = "Log group of the drain Lambda."
  value       = aws_cloudwatch_log_group.lambda.name
}

output "reconcile_rule_arn" {
  description = "ARN of the EventBridge rule that runs the reconcile."
  value       = aws_cloudwatch_event_rule.reconcile.arn
}

output "errors_alarm_arn" {
  description = "ARN of the Errors alarm; null when errors_alarm_enabled is false."
  value       = try(aws_cloudwatch_metric_alarm.errors[0].arn, null)
}
