variable "autoscaling_group_names" {
  description = "ASG names by colour (the example's autoscaling_group_names output)."
  type        = map(string)
}

variable "function_names" {
  description = "The Lambda functions' names (the example's scale_status_function_name and drain_hook_function_name)."
  type        = list(string)
}

variable "topic_arn" {
  description = "ARN of the drain hook's SNS topic."
  type        = string
}
