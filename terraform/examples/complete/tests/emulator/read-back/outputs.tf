output "groups" {
  description = "Per colour: desired_capacity, min_size, max_size, the tags propagated to instances, the group's own tags (not propagated), the enabled metrics and the termination policies (a set: the order is not kept)."
  value = {
    for colour, group in data.aws_autoscaling_group.this : colour => {
      desired_capacity     = group.desired_capacity
      min_size             = group.min_size
      max_size             = group.max_size
      tags                 = { for tag in group.tag : tag.key => tag.value if tag.propagate_at_launch }
      group_tags           = { for tag in group.tag : tag.key => tag.value if !tag.propagate_at_launch }
      enabled_metrics      = group.enabled_metrics
      termination_policies = group.termination_policies
    }
  }
}

output "functions" {
  description = "Per function name: runtime, handler, log format and log group, the log group's retention, the environment and the reserved concurrency."
  value = {
    for name, function in data.aws_lambda_function.this : name => {
      runtime                        = function.runtime
      handler                        = function.handler
      log_format                     = one(function.logging_config[*].log_format)
      log_group                      = one(function.logging_config[*].log_group)
      retention_in_days              = data.aws_cloudwatch_log_group.this[name].retention_in_days
      environment                    = try(function.environment[0].variables, {})
      reserved_concurrent_executions = function.reserved_concurrent_executions
    }
  }
}

output "topic_arn" {
  description = "ARN of the topic found by name."
  value       = data.aws_sns_topic.this.arn
}
