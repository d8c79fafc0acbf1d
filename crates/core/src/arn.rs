//! Names out of AWS ARNs: the one place that knows their shape.
//!
//! ECS cluster ARNs are `arn:aws:ecs:<region>:<account>:cluster/<name>`; users may write either form, and
//! ECS answers with ARNs, so everything that compares clusters compares names from here.

/// `arn:aws:ecs:us-east-1:123456789012:cluster/prod` → `prod`; a plain name is returned as is.
pub fn cluster_name(name_or_arn: &str) -> &str {
    match name_or_arn.strip_prefix("arn:") {
        Some(rest) => rest.rsplit_once(":cluster/").map_or(name_or_arn, |(_, name)| name),
        None => name_or_arn,
    }
}

/// The last path segment of a resource ARN (`…:service/cluster/api` → `api`); the input when it has none.
pub fn resource_name(arn: &str) -> &str {
    arn.rsplit_once('/').map_or(arn, |(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_names_are_taken_from_arns() {
        assert_eq!(cluster_name("arn:aws:ecs:eu-west-1:123456789012:cluster/prod-1"), "prod-1");
        assert_eq!(cluster_name("prod"), "prod");
        // An ARN of something else is not a cluster name: it stays whole and will not match a cluster.
        let service = "arn:aws:ecs:eu-west-1:123456789012:service/prod/api";
        assert_eq!(cluster_name(service), service);
    }

    #[test]
    fn resource_names_are_the_last_path_segment() {
        assert_eq!(resource_name("arn:aws:ecs:eu-west-1:123456789012:service/prod/api"), "api");
        assert_eq!(resource_name("arn:aws:ecs:eu-west-1:123456789012:cluster/prod"), "prod");
        assert_eq!(resource_name("plain"), "plain");
    }
}
