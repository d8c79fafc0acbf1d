# Plan-level wiring of the example; scripts/terraform-checks.sh apply runs it end to end against the emulator.
mock_provider "aws" {
  mock_data "aws_region" {
    defaults = {
      id   = "us-east-1"
      name = "us-east-1"
    }
  }
  mock_data "aws_availability_zones" {
    defaults = {
      names = ["us-east-1a", "us-east-1b", "us-east-1c"]
    }
  }
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }
  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
    }
  }
}

variables {
  scale_status_zip = "../../modules/scale-status/tests/fixtures/bootstrap.zip"
  drain_hook_zip   = "../../modules/drain-hook/tests/fixtures/bootstrap.zip"
  blue             = { image_id = "ami-0aae19d30bab785d3" }
}

run "blue_serves_and_green_waits" {
  command = plan

  assert {
    condition     = module.ecs_cluster_bg.active_colours == tolist(["blue"])
    error_message = "Only blue is active in the example."
  }
  assert {
    condition     = module.ecs_cluster_bg.autoscaling_group_names == { blue = "default-blue", green = "default-green" }
    error_message = "ASGs are named after the cluster and colour."
  }
}

run "the_schedule_lists_the_cluster_with_the_example_thresholds" {
  command = plan

  assert {
    condition     = module.scale_status.schedule_input == "{\"clusters\":[{\"cpu\":{\"max\":75,\"min\":40},\"memory\":{\"max\":75,\"min\":40},\"name\":\"default\"}],\"namespace\":\"Curalate/AutoScaling\"}"
    error_message = "Unexpected schedule input: ${module.scale_status.schedule_input}"
  }
}

run "the_cluster_opts_in_by_tag" {
  command = plan

  assert {
    condition     = aws_ecs_cluster.this.tags["ecs-scaler:enabled"] == "true"
    error_message = "The cluster must carry ecs-scaler:enabled=true."
  }
}

run "the_subnets_span_two_zones" {
  command = plan

  assert {
    condition     = [for subnet in aws_subnet.public : subnet.availability_zone] == ["us-east-1a", "us-east-1b"]
    error_message = "Instances spread over the first two zones."
  }
}

run "during_a_swap_both_colours_are_active" {
  command = plan

  variables {
    green = { image_id = "ami-0123456789abcdef0", min_size = 2, max_size = 6 }
  }

  assert {
    condition     = module.ecs_cluster_bg.active_colours == tolist(["blue", "green"])
    error_message = "Bringing green up must make it active next to blue."
  }
  assert {
    condition     = module.ecs_cluster_bg.image_ids == { blue = "ami-0aae19d30bab785d3", green = "ami-0123456789abcdef0" }
    error_message = "Each colour runs its own pinned AMI."
  }
}

run "after_a_swap_only_green_is_active" {
  command = plan

  variables {
    green = { image_id = "ami-0123456789abcdef0", min_size = 2, max_size = 6 }
    blue  = { image_id = "ami-0aae19d30bab785d3", min_size = 0, max_size = 0 }
  }

  assert {
    condition     = module.ecs_cluster_bg.active_colours == tolist(["green"])
    error_message = "Taking blue down must leave green alone active."
  }
}

run "an_idle_green_borrows_blues_ami" {
  command = plan

  assert {
    condition     = module.ecs_cluster_bg.image_ids == { blue = "ami-0aae19d30bab785d3", green = "ami-0aae19d30bab785d3" }
    error_message = "Both launch templates use the pinned blue AMI while green is idle; nothing is looked up."
  }
}

run "bringing_green_up_needs_its_ami" {
  command = plan

  variables {
    green = { min_size = 2, max_size = 6 }
  }

  expect_failures = [var.green]
}

run "the_drain_may_not_outlast_the_lifecycle_action" {
  command = plan

  # With a 120 s heartbeat timeout Auto Scaling ends the wait after 12000 s.
  variables {
    lifecycle_hook_heartbeat_timeout = 120
    max_drain_seconds                = 12001
  }

  expect_failures = [check.max_drain_fits_the_lifecycle_action_limit]
}

# No expect_failures: a failing check would fail this run.
run "a_drain_exactly_at_the_limit_passes_the_check" {
  command = plan

  variables {
    lifecycle_hook_heartbeat_timeout = 120
    max_drain_seconds                = 12000
  }
}

run "a_cluster_name_too_long_for_the_lambda_names_is_rejected" {
  command = plan

  variables {
    cluster_name = join("", [for i in range(42) : "x"])
  }

  expect_failures = [var.cluster_name]
}

run "the_longest_cluster_name_fits" {
  command = plan

  variables {
    cluster_name = join("", [for i in range(41) : "x"])
  }

  assert {
    condition     = length(module.scale_status.function_name) == 54
    error_message = "<cluster_name>-scale-status is the longest derived name at 54 characters."
  }
}
