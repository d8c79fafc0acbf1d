output "function_name" {
  description = "Name of the scale-status Lambda."
  value       = module.lambda.function_name
}

output "function_arn" {
  description = "ARN of the scale-status Lambda."
  value       = module.lambda.function_arn
}

output "lambda_role_arn" {
  description = "ARN of the Lambda's execution role."
  value       = module.lambda.role_arn
}

output "log_group_name" {
  description = "Log group of the Lambda."
  value       = module.lambda.log_group_name
}

output "schedule_rule_arn" {
  description = "ARN of the EventBridge rule that runs the Lambda."
  value       = aws_cloudwatch_event_rule.tick.arn
}

output "schedule_input" {
  description = "The constant JSON input the schedule sends, as its target holds it; null when clusters is empty (plain scheduled event)."
  value       = aws_cloudwatch_event_target.tick.input
}

output "placement_failure_rule_arn" {
  description = "ARN of the EventBridge rule that runs the Lambda when ECS cannot place a service's task in a managed cluster."
  value       = aws_cloudwatch_event_rule.placement_failure.arn
}

output "placement_failure_event_pattern" {
  description = "The placement-failure rule's event pattern (JSON), as the rule holds it."
  value       = aws_cloudwatch_event_rule.placement_failure.event_pattern
}

output "namespace" {
  description = "CloudWatch namespace ScaleStatus and InstancesShortfall are published to."
  value       = var.namespace
}

output "errors_alarm_arn" {
  description = "ARN of the Errors alarm; null when errors_alarm_enabled is false."
  value       = module.lambda.errors_alarm_arn
}

output "environment" {
  description = "The environment variables the module gives the function (settings left unset are absent, so the function's defaults apply)."
  value       = local.environment
}
