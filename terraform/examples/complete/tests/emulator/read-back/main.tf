# Reads back, through the provider's data sources, what the emulator holds after the example's apply: an
# independent look at the objects rather than the state Terraform recorded. Used only by ../emulator.tftest.hcl.
# Alarms, lifecycle hooks, EventBridge targets and SNS attributes have no data source; the test asserts those on
# the modules' outputs, which carry what the provider read back after creating them.

data "aws_autoscaling_group" "this" {
  for_each = var.autoscaling_group_names

  name = each.value
}

data "aws_lambda_function" "this" {
  for_each = toset(var.function_names)

  function_name = each.value
}

data "aws_cloudwatch_log_group" "this" {
  for_each = toset(var.function_names)

  name = "/aws/lambda/${each.value}"
}

data "aws_sns_topic" "this" {
  name = element(split(":", var.topic_arn), 5)
}
