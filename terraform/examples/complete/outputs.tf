output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "autoscaling_group_names" {
  description = "ASG names by colour."
  value       = module.ecs_cluster_bg.autoscaling_group_names
}

output "active_colours" {
  description = "Colours that currently have capacity."
  value       = module.ecs_cluster_bg.active_colours
}

output "drain_hook_topic_arn" {
  description = "SNS topic the lifecycle hooks notify."
  value       = module.drain_hook.notification_target_arn
}

output "scale_status_function_name" {
  description = "Name of the scale-status Lambda."
  value       = module.scale_status.function_name
}

output "drain_hook_function_name" {
  description = "Name of the drain-hook Lambda."
  value       = module.drain_hook.function_name
}

output "scale_status_schedule_input" {
  description = "The JSON the scale-status schedule sends every minute: the cluster's name and the namespace (the thresholds are in both Lambdas' environment)."
  value       = module.scale_status.schedule_input
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = module.dashboard.dashboard_name
}

output "drain_hook_function_arn" {
  description = "ARN of the drain-hook Lambda, first in both groups' termination policies."
  value       = module.drain_hook.termination_policy_arn
}

output "scale_status_function_arn" {
  description = "ARN of the scale-status Lambda."
  value       = module.scale_status.function_arn
}

output "shortfall_policy_names" {
  description = "The shortfall step policies by colour (active colours only)."
  value       = module.ecs_cluster_bg.shortfall_policy_names
}
