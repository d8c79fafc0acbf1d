mock_provider "aws" {
  mock_data "aws_region" {
    defaults = {
      id   = "us-east-1"
      name = "us-east-1"
    }
  }
}

variables {
  clusters = [{
    name      = "default"
    asg_names = { blue = "default-blue", green = "default-green" }
    cpu       = { min = 40, max = 75 }
    memory    = { min = 45, max = 80 }
  }]
  scale_status_function_name = "ecs-scaler-scale-status"
  drain_hook_function_name   = "ecs-scaler-drain-hook"
}

run "scale_status_is_drawn_on_a_zero_to_two_axis_with_labelled_levels" {
  command = plan

  assert {
    condition = one([
      for widget in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : widget.properties
      if try(widget.properties.title, "") == "ScaleStatus"
      ]).yAxis.left == { min = 0, max = 2, showUnits = false } && one([
      for widget in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : widget.properties
      if try(widget.properties.title, "") == "ScaleStatus"
      ]).annotations.horizontal == [
      { value = 0, label = "0 scale down" },
      { value = 1, label = "1 stay" },
      { value = 2, label = "2 scale up" },
    ]
    error_message = "ScaleStatus: left axis 0..2 with annotations 0 scale down / 1 stay / 2 scale up."
  }
  assert {
    condition = one([
      for widget in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : widget.properties.metrics
      if try(widget.properties.title, "") == "ScaleStatus"
    ])[0] == ["Curalate/AutoScaling", "ScaleStatus", "ClusterName", "default", { label = "ScaleStatus" }]
    error_message = "ScaleStatus must be read from Curalate/AutoScaling for ClusterName=default."
  }
}

run "instances_shortfall_is_drawn_beside_scale_status" {
  command = plan

  assert {
    condition = one([
      for widget in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : [widget.x, widget.y, widget.width, widget.properties.stat, widget.properties.metrics]
      if try(widget.properties.title, "") == "InstancesShortfall"
      ]) == [4, 1, 4, "Maximum", [["Curalate/AutoScaling", "InstancesShortfall", "ClusterName", "default", { label = "InstancesShortfall" }]]] && one([
      for widget in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : [widget.x, widget.y, widget.width]
      if try(widget.properties.title, "") == "ScaleStatus"
    ]) == [0, 1, 4]
    error_message = "InstancesShortfall (Maximum, Curalate/AutoScaling, ClusterName=default) sits right of ScaleStatus."
  }
}

run "instances_surplus_is_drawn_beside_instances_shortfall" {
  command = plan

  assert {
    condition = one([
      for widget in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : [widget.x, widget.y, widget.width, widget.properties.stat, widget.properties.metrics]
      if try(widget.properties.title, "") == "InstancesSurplus"
    ]) == [8, 1, 4, "Minimum", [["Curalate/AutoScaling", "InstancesSurplus", "ClusterName", "default", { label = "InstancesSurplus" }]]]
    error_message = "InstancesSurplus (Minimum, as the surplus alarm reads it; Curalate/AutoScaling, ClusterName=default) sits right of InstancesShortfall."
  }
  assert {
    condition = [
      for annotation in one([
        for widget in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : widget.properties.annotations.horizontal
        if try(widget.properties.title, "") == "InstancesSurplus"
      ]) : annotation.value
    ] == [2]
    error_message = "InstancesSurplus shows the surplus alarm's threshold 2."
  }
}

run "no_two_graphs_overlap" {
  command = plan

  variables {
    clusters = [
      { name = "web", asg_names = { blue = "web-blue", green = "web-green" } },
      { name = "batch" },
    ]
  }

  assert {
    condition = alltrue(flatten([
      for i, a in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : [
        for j, b in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets :
        i == j || a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y
      ]
    ]))
    error_message = "Widgets must not overlap, with and without the in-service graph."
  }
}

run "reservation_graphs_show_the_thresholds" {
  command = plan

  assert {
    condition = [
      for annotation in one([
        for widget in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : widget.properties.annotations.horizontal
        if try(widget.properties.title, "") == "CPU reservation (%)"
      ]) : annotation.value
    ] == [40, 75]
    error_message = "CPU reservation must show min 40 and max 75."
  }
  assert {
    condition = [
      for annotation in one([
        for widget in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : widget.properties.annotations.horizontal
        if try(widget.properties.title, "") == "Memory reservation (%)"
      ]) : annotation.value
    ] == [45, 80]
    error_message = "Memory reservation must show min 45 and max 80."
  }
}

run "in_service_instances_are_shown_per_colour" {
  command = plan

  assert {
    condition = one([
      for widget in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : widget.properties.metrics
      if try(widget.properties.title, "") == "In-service instances by colour"
      ]) == [
      ["AWS/AutoScaling", "GroupInServiceInstances", "AutoScalingGroupName", "default-blue", { label = "blue" }],
      ["AWS/AutoScaling", "GroupInServiceInstances", "AutoScalingGroupName", "default-green", { label = "green" }],
    ]
    error_message = "One GroupInServiceInstances line per colour ASG."
  }
}

run "drain_metrics_and_lambda_health_are_shown" {
  command = plan

  assert {
    condition = toset(flatten([
      for widget in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : [
        for metric in try(widget.properties.metrics, []) : "${metric[0]} ${metric[1]} ${metric[3]}"
      ]
      ])) == toset([
      "Curalate/AutoScaling ScaleStatus default",
      "Curalate/AutoScaling InstancesShortfall default",
      "Curalate/AutoScaling InstancesSurplus default",
      "AWS/ECS CPUReservation default",
      "AWS/ECS MemoryReservation default",
      "AWS/AutoScaling GroupInServiceInstances default-blue",
      "AWS/AutoScaling GroupInServiceInstances default-green",
      "Curalate/AutoScaling DrainingInstances default",
      "Curalate/AutoScaling DrainSeconds default",
      "Curalate/AutoScaling DrainTimeouts default",
      "AWS/Lambda Errors ecs-scaler-scale-status",
      "AWS/Lambda Errors ecs-scaler-drain-hook",
      "AWS/Lambda Duration ecs-scaler-scale-status",
      "AWS/Lambda Duration ecs-scaler-drain-hook",
    ])
    error_message = "The dashboard must show exactly the documented metrics."
  }
  assert {
    condition = alltrue([
      for widget in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets :
      widget.x + widget.width <= 24 && try(widget.properties.region, "us-east-1") == "us-east-1"
    ])
    error_message = "Widgets must fit the 24-column grid and name the provider's region."
  }
}

run "clusters_stack_below_each_other" {
  command = plan

  variables {
    clusters = [{ name = "web" }, { name = "batch" }]
    # Without function names the Lambda row is left out.
    scale_status_function_name = null
    drain_hook_function_name   = null
  }

  assert {
    condition = [
      for widget in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : widget.y
      if try(widget.properties.markdown, "") != ""
    ] == [0, 13]
    error_message = "Each cluster's block must start below the previous one."
  }
  assert {
    condition = length([
      for widget in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : widget
      if try(widget.properties.title, "") == "In-service instances by colour" || startswith(try(widget.properties.title, ""), "Lambda")
    ]) == 0
    error_message = "No ASG graph without ASG names, no Lambda row without function names."
  }
  assert {
    condition = [
      for annotation in one([
        for widget in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : widget.properties.annotations.horizontal
        if try(widget.properties.title, "") == "CPU reservation (%)" && widget.y == 1
      ]) : annotation.value
    ] == [60, 85]
    error_message = "Thresholds default to the scale-status Lambda's built-in 60/85."
  }
}

run "thresholds_out_of_order_are_rejected" {
  command = plan

  variables {
    clusters = [{ name = "default", cpu = { min = 80, max = 60 } }]
  }

  expect_failures = [var.clusters]
}

run "a_name_ecs_would_not_accept_is_rejected" {
  command = plan

  variables {
    clusters = [{ name = "default cluster" }]
  }

  expect_failures = [var.clusters]
}
