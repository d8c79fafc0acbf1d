# desired_capacity sizes a group only when it is created; the checks warn when it is used to bring an idle colour
# up. Its own file, so the state starts from a fresh creation (the mock does not clamp desired capacity to a
# lowered max_size as Auto Scaling does, so a state left by other runs would not be realistic).
mock_provider "aws" {
  mock_data "aws_region" {
    defaults = {
      id   = "us-east-1"
      name = "us-east-1"
    }
  }

  # The provider validates ids even when mocked.
  mock_resource "aws_launch_template" {
    defaults = {
      id = "lt-0123456789abcdef0"
    }
  }

  # The alarms validate their actions' ARNs when applied.
  mock_resource "aws_autoscaling_policy" {
    defaults = {
      arn = "arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:00000000-0000-0000-0000-000000000000:autoScalingGroupName/default-blue:policyName/scale-up"
    }
  }
}

variables {
  cluster_name                       = "default"
  environment                        = "production"
  team                               = "devops"
  region                             = "us-east-1"
  iam_instance_profile               = "ecs-instance"
  security_group_ids                 = ["sg-0123456789abcdef0"]
  subnet_ids                         = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
  drain_hook_notification_target_arn = "arn:aws:sns:us-east-1:123456789012:ecs-scaler-drain-hook"
  drain_hook_role_arn                = "arn:aws:iam::123456789012:role/ecs-scaler-drain-hook-asg"
  autoscale_enabled                  = true
  root_volume_size                   = 50

  colours = {
    blue  = { image_id = "ami-5ac76b27", instance_type = "c4.2xlarge", min_size = 2, max_size = 15, desired_capacity = 5 }
    green = { image_id = "ami-c868b6b5", instance_type = "c3.2xlarge", min_size = 0, max_size = 0, desired_capacity = 0 }
  }
}

# Each run sees the state the runs before it left (a mocked refresh keeps it): blue created at desired capacity 5,
# green idle at 0. Plans read a group's desired_capacity as its current one, as after a refresh from AWS.
run "a_group_exists_at_its_created_size" {
  command = apply

  assert {
    condition     = aws_autoscaling_group.this["blue"].desired_capacity == 5
    error_message = "Blue is created at its desired_capacity."
  }
}

run "an_autoscaled_group_keeps_its_size_and_does_not_warn" {
  command = plan

  # The alarms moved blue away from the 5 it was created with; a desired_capacity of 3 changes nothing, and a
  # running group of another size is no mistake worth a warning (a failing check would fail this run).
  variables {
    colours = {
      blue  = { image_id = "ami-5ac76b27", instance_type = "c4.2xlarge", min_size = 2, max_size = 15, desired_capacity = 3 }
      green = { image_id = "ami-c868b6b5", instance_type = "c3.2xlarge", min_size = 0, max_size = 0, desired_capacity = 0 }
    }
  }

  assert {
    condition     = aws_autoscaling_group.this["blue"].desired_capacity == 5
    error_message = "ignore_changes must keep the group's current desired capacity."
  }
}

run "bringing_an_idle_colour_up_with_desired_capacity_alone_warns" {
  # Green was created idle (0/0/0). Raising max_size and setting desired_capacity leaves it at 0 instances.
  # Terraform leaves a check on a resource with pending changes unknown at plan time, so the warning comes
  # with the apply that makes the change (and with every plan after it).
  command = apply

  variables {
    colours = {
      blue  = { image_id = "ami-5ac76b27", instance_type = "c4.2xlarge", min_size = 2, max_size = 15, desired_capacity = 5 }
      green = { image_id = "ami-c868b6b5", instance_type = "c3.2xlarge", min_size = 0, max_size = 15, desired_capacity = 5 }
    }
  }

  assert {
    condition     = aws_autoscaling_group.this["green"].desired_capacity == 0
    error_message = "ignore_changes keeps the idle colour at 0."
  }

  # The check warns; the apply itself succeeds.
  expect_failures = [check.green_desired_capacity_is_applied]
}

run "a_desired_capacity_that_min_size_brings_about_does_not_warn" {
  command = plan

  # Raising min_size to 8 makes Auto Scaling raise desired capacity from 5 to 8, the configured value.
  variables {
    colours = {
      blue  = { image_id = "ami-5ac76b27", instance_type = "c4.2xlarge", min_size = 8, max_size = 15, desired_capacity = 8 }
      green = { image_id = "ami-c868b6b5", instance_type = "c3.2xlarge", min_size = 0, max_size = 0, desired_capacity = 0 }
    }
  }

  assert {
    condition     = aws_autoscaling_group.this["blue"].min_size == 8
    error_message = "min_size must pass through: it is what resizes an existing group."
  }
}
