# The public modules validate what their users pass; the checks here guard the internal contract.

variable "name" {
  description = "Name of the function; also names its role (<name>-lambda), log group (/aws/lambda/<name>) and Errors alarm (<name>-errors)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,57}$", var.name))
    error_message = "name must be 1-57 letters, digits, hyphens or underscores, so that <name>-lambda fits IAM's 64-character role names."
  }
}

variable "description" {
  description = "Description of the function."
  type        = string
  nullable    = false
}

variable "zip_path" {
  description = "Path of the function's package, a zip holding the bootstrap executable."
  type        = string
  nullable    = false
}

variable "assume_role_statement_id" {
  description = "Sid of the execution role's trust statement (which lets Lambda assume it)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9]+$", var.assume_role_statement_id))
    error_message = "assume_role_statement_id must be alphanumeric, as IAM requires of a Sid."
  }
}

variable "policy_name" {
  description = "Name of the execution role's inline policy."
  type        = string
  nullable    = false
}

variable "policy_json" {
  description = "The execution role's inline policy (an aws_iam_policy_document's json). It should let the function write to its log group (the log_group_arn output)."
  type        = string
  nullable    = false
}

variable "environment" {
  description = "Environment variables of the function."
  type        = map(string)
  nullable    = false
}

variable "timeout" {
  description = "Timeout of the function in seconds."
  type        = number
  nullable    = false
}

variable "memory_size" {
  description = "Memory of the function in MB."
  type        = number
  nullable    = false
}

variable "reserved_concurrent_executions" {
  description = "Reserved concurrency of the function; -1 leaves it unreserved."
  type        = number
  nullable    = false
}

variable "log_retention_in_days" {
  description = "Retention of the function's log group in days; 0 keeps logs forever."
  type        = number
  nullable    = false
}

variable "log_kms_key_arn" {
  description = "KMS key ARN to encrypt the log group with; null uses CloudWatch Logs' own encryption."
  type        = string
  default     = null
}

variable "errors_alarm_enabled" {
  description = "Create the alarm on the function's Errors metric."
  type        = bool
  nullable    = false
}

variable "errors_alarm_description" {
  description = "Description of the Errors alarm: what breaks while the function fails."
  type        = string
  nullable    = false
}

variable "alarm_actions" {
  description = "ARNs notified when the Errors alarm fires and when it recovers."
  type        = list(string)
  nullable    = false
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  nullable    = false
}
