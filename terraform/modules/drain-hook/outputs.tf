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

output "notification_topic_kms_key_id" {
  description = "KMS key the topic is encrypted with, as applied: alias/aws/sns unless sns_kms_key_arn is set."
  value       = aws_sns_topic.lifecycle.kms_master_key_id
}

output "subscription_arn" {
  description = "ARN of the drain Lambda's subscription to the topic."
  value       = aws_sns_topic_subscription.drain.arn
}

output "function_name" {
  description = "Name of the drain Lambda."
  value       = module.lambda.function_name
}

output "function_arn" {
  description = "ARN of the drain Lambda."
  value       = module.lambda.function_arn
}

output "termination_policy_arn" {
  description = "The function's unqualified ARN, to put first in the groups' termination_policies (the blue/green module's termination_policy_arn). Known only once Auto Scaling may invoke it: a scale-in right after the group changes must not find the function closed to it."
  value       = module.lambda.function_arn
  depends_on  = [aws_lambda_permission.autoscaling]
}

output "autoscaling_service_role_arn" {
  description = "The principal allowed to invoke the function as a termination policy: the Auto Scaling service-linked role."
  value       = aws_lambda_permission.autoscaling.principal
}

output "lambda_role_arn" {
  description = "ARN of the drain Lambda's execution role."
  value       = module.lambda.role_arn
}

output "log_group_name" {
  description = "Log group of the drain Lambda."
  value       = module.lambda.log_group_name
}

output "reconcile_rule_arn" {
  description = "ARN of the EventBridge rule that runs the reconcile."
  value       = aws_cloudwatch_event_rule.reconcile.arn
}

output "errors_alarm_arn" {
  description = "ARN of the Errors alarm; null when errors_alarm_enabled is false."
  value       = module.lambda.errors_alarm_arn
}

output "environment" {
  description = "The environment variables the module gives the function (settings left unset are absent, so the function's defaults apply)."
  value       = local.environment
}
