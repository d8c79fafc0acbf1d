data "aws_region" "current" {}

locals {
  # `id` holds the region name; `name` is deprecated from provider 6.x on.
  region = data.aws_region.current.id

  # Each cluster gets a header line and two rows of graphs on the 24-column grid: ScaleStatus, InstancesShortfall
  # and InstancesSurplus (4 columns each), the reservations (6 each), then the in-service instances and the drain.
  header_height = 1
  graph_height  = 6
  block_height  = local.header_height + 2 * local.graph_height

  functions = compact([var.scale_status_function_name, var.drain_hook_function_name])

  # The second row: the three drain graphs beside the in-service graph, or across the row without it.
  drain_x     = { alone = [0, 8, 16], beside = [6, 12, 18] }
  drain_width = { alone = 8, beside = 6 }

  cluster_widgets = flatten([
    for index, cluster in var.clusters : concat([
      {
        type   = "text"
        x      = 0
        y      = index * local.block_height
        width  = 24
        height = local.header_height
        properties = {
          markdown = "## ECS cluster ${cluster.name}"
        }
      },
      {
        type   = "metric"
        x      = 0
        y      = index * local.block_height + local.header_height
        width  = 4
        height = local.graph_height
        properties = {
          title   = "ScaleStatus"
          region  = local.region
          view    = "timeSeries"
          stacked = false
          period  = var.period
          stat    = "Maximum"
          metrics = [[var.namespace, "ScaleStatus", "ClusterName", cluster.name, { label = "ScaleStatus" }]]
          yAxis   = { left = { min = 0, max = 2, showUnits = false } }
          annotations = {
            horizontal = [
              { value = 0, label = "0 scale down" },
              { value = 1, label = "1 stay" },
              { value = 2, label = "2 scale up" },
            ]
          }
        }
      },
      {
        type   = "metric"
        x      = 4
        y      = index * local.block_height + local.header_height
        width  = 4
        height = local.graph_height
        properties = {
          title   = "InstancesShortfall"
          region  = local.region
          view    = "timeSeries"
          stacked = false
          period  = var.period
          stat    = "Maximum"
          metrics = [[var.namespace, "InstancesShortfall", "ClusterName", cluster.name, { label = "InstancesShortfall" }]]
          yAxis   = { left = { min = 0, showUnits = false } }
        }
      },
      {
        type   = "metric"
        x      = 8
        y      = index * local.block_height + local.header_height
        width  = 4
        height = local.graph_height
        properties = {
          title   = "InstancesSurplus"
          region  = local.region
          view    = "timeSeries"
          stacked = false
          period  = var.period
          # What the surplus alarm reads: the least surplus of each period.
          stat    = "Minimum"
          metrics = [[var.namespace, "InstancesSurplus", "ClusterName", cluster.name, { label = "InstancesSurplus" }]]
          yAxis   = { left = { min = 0, showUnits = false } }
          annotations = {
            horizontal = [{ value = 2, label = "2: the surplus alarm removes s - 1" }]
          }
        }
      },
      {
        type   = "metric"
        x      = 12
        y      = index * local.block_height + local.header_height
        width  = 6
        height = local.graph_height
        properties = {
          title   = "CPU reservation (%)"
          region  = local.region
          view    = "timeSeries"
          stacked = false
          period  = var.period
          stat    = "Maximum"
          metrics = [["AWS/ECS", "CPUReservation", "ClusterName", cluster.name, { label = "CPUReservation" }]]
          yAxis   = { left = { min = 0, max = 100, showUnits = false } }
          annotations = {
            horizontal = [
              { value = cluster.cpu.min, label = "min ${cluster.cpu.min}: scale down below" },
              { value = cluster.cpu.max, label = "max ${cluster.cpu.max}: scale up above" },
            ]
          }
        }
      },
      {
        type   = "metric"
        x      = 18
        y      = index * local.block_height + local.header_height
        width  = 6
        height = local.graph_height
        properties = {
          title   = "Memory reservation (%)"
          region  = local.region
          view    = "timeSeries"
          stacked = false
          period  = var.period
          stat    = "Maximum"
          metrics = [["AWS/ECS", "MemoryReservation", "ClusterName", cluster.name, { label = "MemoryReservation" }]]
          yAxis   = { left = { min = 0, max = 100, showUnits = false } }
          annotations = {
            horizontal = [
              { value = cluster.memory.min, label = "min ${cluster.memory.min}: scale down below" },
              { value = cluster.memory.max, label = "max ${cluster.memory.max}: scale up above" },
            ]
          }
        }
      },
      ], length(cluster.asg_names) == 0 ? [] : [
      {
        type   = "metric"
        x      = 0
        y      = index * local.block_height + local.header_height + local.graph_height
        width  = 6
        height = local.graph_height
        properties = {
          title   = "In-service instances by colour"
          region  = local.region
          view    = "timeSeries"
          stacked = true
          period  = var.period
          stat    = "Maximum"
          metrics = [
            for colour in sort(keys(cluster.asg_names)) :
            ["AWS/AutoScaling", "GroupInServiceInstances", "AutoScalingGroupName", cluster.asg_names[colour], { label = colour }]
          ]
          yAxis = { left = { min = 0, showUnits = false } }
        }
      },
      ], [
      {
        type   = "metric"
        x      = local.drain_x[length(cluster.asg_names) == 0 ? "alone" : "beside"][0]
        y      = index * local.block_height + local.header_height + local.graph_height
        width  = local.drain_width[length(cluster.asg_names) == 0 ? "alone" : "beside"]
        height = local.graph_height
        properties = {
          title   = "Draining instances"
          region  = local.region
          view    = "timeSeries"
          stacked = false
          period  = var.period
          stat    = "Maximum"
          metrics = [[var.namespace, "DrainingInstances", "ClusterName", cluster.name, { label = "DrainingInstances" }]]
          yAxis   = { left = { min = 0, showUnits = false } }
        }
      },
      {
        type   = "metric"
        x      = local.drain_x[length(cluster.asg_names) == 0 ? "alone" : "beside"][1]
        y      = index * local.block_height + local.header_height + local.graph_height
        width  = local.drain_width[length(cluster.asg_names) == 0 ? "alone" : "beside"]
        height = local.graph_height
        properties = {
          title   = "Drain duration (s)"
          region  = local.region
          view    = "timeSeries"
          stacked = false
          period  = var.period
          stat    = "Maximum"
          metrics = [[var.namespace, "DrainSeconds", "ClusterName", cluster.name, { label = "DrainSeconds" }]]
          yAxis   = { left = { min = 0, showUnits = false } }
        }
      },
      {
        type   = "metric"
        x      = local.drain_x[length(cluster.asg_names) == 0 ? "alone" : "beside"][2]
        y      = index * local.block_height + local.header_height + local.graph_height
        width  = local.drain_width[length(cluster.asg_names) == 0 ? "alone" : "beside"]
        height = local.graph_height
        properties = {
          title   = "Drain timeouts"
          region  = local.region
          view    = "timeSeries"
          stacked = false
          period  = var.period
          stat    = "Sum"
          metrics = [[var.namespace, "DrainTimeouts", "ClusterName", cluster.name, { label = "DrainTimeouts" }]]
          yAxis   = { left = { min = 0, showUnits = false } }
        }
      },
    ])
  ])

  lambda_row_y = length(var.clusters) * local.block_height

  lambda_widgets = length(local.functions) == 0 ? [] : [
    {
      type   = "metric"
      x      = 0
      y      = local.lambda_row_y
      width  = 12
      height = local.graph_height
      properties = {
        title   = "Lambda errors"
        region  = local.region
        view    = "timeSeries"
        stacked = false
        period  = var.period
        stat    = "Sum"
        metrics = [for function_name in local.functions : ["AWS/Lambda", "Errors", "FunctionName", function_name, { label = function_name }]]
        yAxis   = { left = { min = 0, showUnits = false } }
      }
    },
    {
      type   = "metric"
      x      = 12
      y      = local.lambda_row_y
      width  = 12
      height = local.graph_height
      properties = {
        title   = "Lambda duration (ms)"
        region  = local.region
        view    = "timeSeries"
        stacked = false
        period  = var.period
        stat    = "Maximum"
        metrics = [for function_name in local.functions : ["AWS/Lambda", "Duration", "FunctionName", function_name, { label = function_name }]]
        yAxis   = { left = { min = 0, showUnits = false } }
      }
    },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.dashboard_name
  dashboard_body = jsonencode({ widgets = concat(local.cluster_widgets, local.lambda_widgets) })
}
