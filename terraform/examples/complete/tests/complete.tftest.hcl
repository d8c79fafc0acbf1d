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

run "the_schedule_lists_the_cluster_by_name_only" {
  command = plan

  assert {
    condition     = module.scale_status.schedule_input == "{\"clusters\":[{\"name\":\"default\"}],\"namespace\":\"Curalate/AutoScaling\"}"
    error_message = "The schedule names the cluster; its thresholds are in the environment both Lambdas read. Got ${module.scale_status.schedule_input}"
  }
}

run "both_lambdas_judge_by_the_example_thresholds" {
  command = plan

  assert {
    condition = {
      for key in ["CPU_MIN", "CPU_MAX", "MEMORY_MIN", "MEMORY_MAX", "CONSOLIDATE_HEADROOM"] : key => lookup(module.scale_status.environment, key, null)
      } == {
      CPU_MIN              = "40"
      CPU_MAX              = "75"
      MEMORY_MIN           = "40"
      MEMORY_MAX           = "75"
      CONSOLIDATE_HEADROOM = "5"
    }
    error_message = "scale-status gets the example's thresholds (40/75) and headroom (5) as its environment. Got ${jsonencode(module.scale_status.environment)}"
  }
  assert {
    condition = alltrue([
      for key in ["CPU_MIN", "CPU_MAX", "MEMORY_MIN", "MEMORY_MAX", "CONSOLIDATE_HEADROOM", "ECS_API_SHARE", "ECS_API_MAX_WAIT_MS"] :
      lookup(module.drain_hook.environment, key, "drain-hook: unset") == lookup(module.scale_status.environment, key, "scale-status: unset")
    ])
    error_message = "The drain hook's termination policy must get scale-status's thresholds, headroom and API budget. scale-status: ${jsonencode(module.scale_status.environment)}, drain-hook: ${jsonencode(module.drain_hook.environment)}"
  }
}

run "changed_thresholds_and_budget_reach_both_lambdas" {
  command = plan

  variables {
    thresholds = {
      cpu    = { min = 30, max = 80 }
      memory = { min = 50, max = 90.5 }
    }
    consolidate_headroom = 3
    ecs_api_share        = 0.2
    ecs_api_max_wait_ms  = 1000
    resync_seconds       = 300
  }

  assert {
    condition = alltrue([
      for environment in [module.scale_status.environment, module.drain_hook.environment] :
      environment["CPU_MIN"] == "30" && environment["CPU_MAX"] == "80" && environment["MEMORY_MIN"] == "50" &&
      environment["MEMORY_MAX"] == "90.5" && environment["CONSOLIDATE_HEADROOM"] == "3" &&
      environment["ECS_API_SHARE"] == "0.2" && environment["ECS_API_MAX_WAIT_MS"] == "1000"
    ])
    error_message = "Both Lambdas get the same thresholds, headroom and API budget. scale-status: ${jsonencode(module.scale_status.environment)}, drain-hook: ${jsonencode(module.drain_hook.environment)}"
  }
  assert {
    condition     = module.scale_status.environment["RESYNC_SECONDS"] == "300" && !contains(keys(module.drain_hook.environment), "RESYNC_SECONDS")
    error_message = "resync_seconds is scale-status's alone."
  }
}

run "a_headroom_above_100_is_rejected" {
  command = plan

  variables {
    consolidate_headroom = 101
  }

  expect_failures = [var.consolidate_headroom]
}

run "an_api_share_above_one_is_rejected" {
  command = plan

  variables {
    ecs_api_share = 1.01
  }

  expect_failures = [var.ecs_api_share]
}

run "a_negative_api_wait_is_rejected" {
  command = plan

  variables {
    ecs_api_max_wait_ms = -1
  }

  expect_failures = [var.ecs_api_max_wait_ms]
}

run "a_resync_above_an_hour_is_rejected" {
  command = plan

  variables {
    resync_seconds = 7200
  }

  expect_failures = [var.resync_seconds]
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
