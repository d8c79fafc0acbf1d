output "function_name" {
  description = "Name of the function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the function."
  value       = aws_lambda_function.this.arn
}

output "function" {
  description = "The function resource as applied, for the calling modules' tests (runtime, environment, logging_config, ...)."
  value       = aws_lambda_function.this
}

output "role_arn" {
  description = "ARN of the function's execution role."
  value       = aws_iam_role.this.arn
}

output "log_group_name" {
  description = "Name of the function's log group."
  value       = aws_cloudwatch_log_group.this.name
}

output "log_group_arn" {
  description = "ARN of the function's log group (for the policy's log statement: <arn>:*)."
  value       = aws_cloudwatch_log_group.this.arn
}

output "log_retention_in_days" {
  description = "Retention of the function's log group in days, as applied."
  value       = aws_cloudwatch_log_group.this.retention_in_days
}

output "errors_alarm_arn" {
  description = "ARN of the Errors alarm; null when errors_alarm_enabled is false."
  value       = try(aws_cloudwatch_metric_alarm.errors[0].arn, null)
}

output "errors_alarm" {
  description = "The Errors alarm resource as applied; null when errors_alarm_enabled is false."
  value       = one(aws_cloudwatch_metric_alarm.errors)
}
