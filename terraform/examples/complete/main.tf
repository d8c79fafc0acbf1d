# One ECS cluster on EC2, scaled by ecs-scaler:
#   scale-status  publishes ScaleStatus (0 down, 1 stay, 2 up) every minute and when ECS cannot place a task,
#                 and asks the serving group's step policy for the instances the waiting tasks need,
#   blue/green    two ASGs whose alarms act on ScaleStatus, with a shortfall step policy, a surplus step policy
#                 (run by the InstancesSurplus alarm) and a termination lifecycle hook each,
#   drain-hook    chooses which instances a scale-in removes (custom termination policy) and holds terminating
#                 instances until their tasks have moved,
#   dashboard     shows all of it.
# The network and instance profile below are the minimum for a runnable example; bring your own in production.

locals {
  repository_root     = "${path.module}/../../.."
  scale_status_zip    = coalesce(var.scale_status_zip, "${local.repository_root}/target/lambda/scale-status/bootstrap.zip")
  drain_hook_zip      = coalesce(var.drain_hook_zip, "${local.repository_root}/target/lambda/drain-hook/bootstrap.zip")
  lifecycle_hook_name = "ecs-scaler-drain"
  namespace           = "Curalate/AutoScaling"

  tags = {
    Environment = var.environment
    Team        = var.team
  }

  # The one source of the limits both Lambdas judge by: scale-status publishes its 0 by them, and the drain hook's
  # termination policy takes an instance on a scale-in only if both reservations stay below max less the headroom
  # without it. Both get them as the same environment variables (CPU_MIN, CPU_MAX, MEMORY_MIN, MEMORY_MAX,
  # CONSOLIDATE_HEADROOM); a cluster's ecs-scaler:* tags override them in both.
  limits = {
    cpu_min              = var.thresholds.cpu.min
    cpu_max              = var.thresholds.cpu.max
    memory_min           = var.thresholds.memory.min
    memory_max           = var.thresholds.memory.max
    consolidate_headroom = var.consolidate_headroom
  }
}

################################################################################
# ECS cluster
################################################################################

resource "aws_ecs_cluster" "this" {
  #checkov:skip=CKV_AWS_65:The scaler needs only the basic AWS/ECS reservation metrics; Container Insights is billed per metric, so the example leaves it to you.
  name = var.cluster_name

  # scale-status manages every cluster tagged ecs-scaler:enabled=true (this one is also listed explicitly below).
  tags = merge(local.tags, { "ecs-scaler:enabled" = "true" })
}

################################################################################
# Network (minimal: two public subnets, no inbound access)
################################################################################

data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394:The example uses only the first two zones by name; a zone AWS adds later cannot change which two.
  state = "available"
}

resource "aws_vpc" "this" {
  #checkov:skip=CKV2_AWS_11:Example network; production VPCs should enable flow logs, which need a log group and role of their own.
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true
  tags                 = merge(local.tags, { Name = var.cluster_name })
}

# Nothing may use the default security group.
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id
  tags   = merge(local.tags, { Name = "${var.cluster_name}-default-unused" })
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id
  tags   = merge(local.tags, { Name = var.cluster_name })
}

resource "aws_subnet" "public" {
  #checkov:skip=CKV_AWS_130:Public addresses let the example's instances reach ECS and ECR without a NAT gateway; the security group admits no inbound traffic.
  count = 2

  vpc_id                  = aws_vpc.this.id
  availability_zone       = data.aws_availability_zones.available.names[count.index]
  cidr_block              = cidrsubnet(var.vpc_cidr, 8, count.index)
  map_public_ip_on_launch = true
  tags                    = merge(local.tags, { Name = "${var.cluster_name}-public-${count.index}" })
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id
  tags   = merge(local.tags, { Name = "${var.cluster_name}-public" })
}

resource "aws_route" "internet" {
  route_table_id         = aws_route_table.public.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this.id
}

resource "aws_route_table_association" "public" {
  count = length(aws_subnet.public)

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id

  # Instances launched into these subnets must be able to reach ECS as soon as they boot.
  depends_on = [aws_route.internet]
}

resource "aws_security_group" "instances" {
  #checkov:skip=CKV2_AWS_5:Attached to the container instances by the blue/green module's launch templates (vpc_security_group_ids). checkov 3.3 loses that link once the module also takes an output of the drain hook's nested _lambda module (termination_policy_arn).
  name        = "${var.cluster_name}-container-instances"
  description = "ECS container instances of ${var.cluster_name}: no inbound, HTTPS out"
  vpc_id      = aws_vpc.this.id
  tags        = local.tags
}

# The ECS agent and image pulls need HTTPS only; open whatever else your tasks talk to.
resource "aws_vpc_security_group_egress_rule" "https" {
  security_group_id = aws_security_group.instances.id
  description       = "HTTPS to ECS, ECR and other AWS endpoints"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

################################################################################
# Container instance profile
################################################################################

data "aws_iam_policy_document" "instance_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "instance" {
  name               = "${var.cluster_name}-ecs-instance"
  assume_role_policy = data.aws_iam_policy_document.instance_assume.json
  tags               = local.tags
}

data "aws_partition" "current" {}

resource "aws_iam_role_policy_attachment" "instance" {
  for_each = {
    ecs = "service-role/AmazonEC2ContainerServiceforEC2Role"
    # Shell access through Session Manager instead of SSH keys.
    ssm = "AmazonSSMManagedInstanceCore"
  }

  role       = aws_iam_role.instance.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/${each.value}"
}

resource "aws_iam_instance_profile" "instance" {
  name = "${var.cluster_name}-ecs-instance"
  role = aws_iam_role.instance.name
  tags = local.tags
}

################################################################################
# ecs-scaler
################################################################################

module "drain_hook" {
  source = "../../modules/drain-hook"

  name                = "${var.cluster_name}-drain-hook"
  zip_path            = local.drain_hook_zip
  cluster_names       = [aws_ecs_cluster.this.name]
  lifecycle_hook_name = local.lifecycle_hook_name
  namespace           = local.namespace
  max_drain_seconds   = var.max_drain_seconds

  # The termination policy judges a scale-in by scale-status's limits.
  cpu_min              = local.limits.cpu_min
  cpu_max              = local.limits.cpu_max
  memory_min           = local.limits.memory_min
  memory_max           = local.limits.memory_max
  consolidate_headroom = local.limits.consolidate_headroom

  ecs_api_share       = var.ecs_api_share
  ecs_api_max_wait_ms = var.ecs_api_max_wait_ms

  alarm_actions = var.alarm_actions
  tags          = local.tags
}

module "ecs_cluster_bg" {
  source = "../../modules/ecs-cluster-blue-green"

  cluster_name         = aws_ecs_cluster.this.name
  environment          = var.environment
  team                 = var.team
  region               = var.region
  iam_instance_profile = aws_iam_instance_profile.instance.arn
  security_group_ids   = [aws_security_group.instances.id]
  # Through the associations, so no instance boots before its subnet routes to the internet.
  subnet_ids = aws_route_table_association.public[*].subnet_id

  drain_hook_notification_target_arn = module.drain_hook.notification_target_arn
  drain_hook_role_arn                = module.drain_hook.role_arn
  lifecycle_hook_name                = local.lifecycle_hook_name
  lifecycle_hook_heartbeat_timeout   = var.lifecycle_hook_heartbeat_timeout
  # The drain hook's function also chooses which instances a scale-in removes. No cycle: the drain hook finds
  # the groups by their ecs-scaler:cluster tag, so it needs nothing from this module (see its asg_names).
  termination_policy_arn = module.drain_hook.termination_policy_arn

  autoscale_enabled = true
  metric_namespace  = local.namespace
  root_volume_size  = 50

  # To upgrade the AMI: give the idle colour the new image_id and the sizes you want, apply, wait for steady
  # state, then set the old colour to 0/0/0 and apply again. See the module's README.
  # The AMIs are pinned, never looked up: an AMI that changed by itself (say, the SSM "recommended" parameter)
  # would change the serving colour's launch template on the next plain apply, and every scale-up would launch
  # it, bypassing the swap. An idle green only keeps its launch template valid, with blue's AMI.
  colours = {
    blue  = var.blue
    green = merge(var.green, { image_id = coalesce(var.green.image_id, var.blue.image_id) })
  }

  tags = local.tags
}

module "scale_status" {
  source = "../../modules/scale-status"

  name      = "${var.cluster_name}-scale-status"
  zip_path  = local.scale_status_zip
  namespace = local.namespace
  # The cluster is listed by name only: thresholds in the schedule's input would reach scale-status alone, so they
  # go into the environment both Lambdas read.
  clusters = [{ name = aws_ecs_cluster.this.name }]
  settings = {
    cpu_min    = local.limits.cpu_min
    cpu_max    = local.limits.cpu_max
    memory_min = local.limits.memory_min
    memory_max = local.limits.memory_max
  }
  consolidate_headroom = local.limits.consolidate_headroom

  ecs_api_share       = var.ecs_api_share
  ecs_api_max_wait_ms = var.ecs_api_max_wait_ms
  resync_seconds      = var.resync_seconds

  alarm_actions = var.alarm_actions
  tags          = local.tags
}

module "dashboard" {
  source = "../../modules/dashboard"

  dashboard_name = "${var.cluster_name}-ecs-scaler"
  namespace      = local.namespace
  clusters = [{
    name      = aws_ecs_cluster.this.name
    asg_names = module.ecs_cluster_bg.autoscaling_group_names
    cpu       = { min = local.limits.cpu_min, max = local.limits.cpu_max }
    memory    = { min = local.limits.memory_min, max = local.limits.memory_max }
  }]
  scale_status_function_name = module.scale_status.function_name
  drain_hook_function_name   = module.drain_hook.function_name
}

# Auto Scaling ends any lifecycle wait after 100 heartbeat timeouts (at most 48 h), heartbeats or not, with the
# hook's default result CONTINUE: a longer max_drain_seconds would never be reached. The two settings belong to
# different modules, so the pair is checked here.
check "max_drain_fits_the_lifecycle_action_limit" {
  assert {
    condition     = var.max_drain_seconds <= min(100 * var.lifecycle_hook_heartbeat_timeout, 172800)
    error_message = "max_drain_seconds (${var.max_drain_seconds} s) exceeds what Auto Scaling allows a lifecycle action with a ${var.lifecycle_hook_heartbeat_timeout} s heartbeat timeout (min(100 x ${var.lifecycle_hook_heartbeat_timeout}, 172800) = ${min(100 * var.lifecycle_hook_heartbeat_timeout, 172800)} s): instances would terminate undrained at that limit instead of when the drain hook gives up. Raise lifecycle_hook_heartbeat_timeout or lower max_drain_seconds."
  }
}
