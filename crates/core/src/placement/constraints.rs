//! Placement constraints: `distinctInstance`, and `memberOf` in ECS's cluster query language.
//!
//! The language (ECS developer guide, "Create expressions to define container instances for Amazon ECS tasks"):
//! `subject operator value`, joined by `and`/`&&` and `or`/`||`, negated by `not`/`!`, grouped by parentheses.
//! Operators: `==`, `!=`, `>`, `>=`, `<`, `<=`, `exists`, `not_exists`, `in [a, b]`, `not_in [a, b]`, `=~`, `!~`,
//! and their word forms (`equals`, `not_equals`, ..., `!exists`, `!in`). `==` is string equality: patterns are
//! `=~`, a Java regular expression, which the model does not judge.
//!
//! An instance either satisfies an expression, does not, or the model cannot tell ([`Tri::Unknown`]): a subject
//! it does not track (`task:group`, `agentVersion`, `registeredAt`, ...), a regular expression (`=~`), a comparison
//! of values that are not both numbers, or an attribute whose value a fresh instance will only have once it
//! registers. Unknown is never taken for yes: whoever asks treats it as "cannot judge" and stays cautious.

use std::collections::HashMap;
use std::fmt;

/// Three-valued logic (Kleene): what the model can say about one instance and one expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tri {
    Yes,
    No,
    Unknown,
}

impl Tri {
    fn and(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::No, _) | (_, Tri::No) => Tri::No,
            (Tri::Yes, Tri::Yes) => Tri::Yes,
            _ => Tri::Unknown,
        }
    }

    fn or(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::Yes, _) | (_, Tri::Yes) => Tri::Yes,
            (Tri::No, Tri::No) => Tri::No,
            _ => Tri::Unknown,
        }
    }

    fn not(self) -> Tri {
        match self {
            Tri::Yes => Tri::No,
            Tri::No => Tri::Yes,
            Tri::Unknown => Tri::Unknown,
        }
    }

    fn from(value: bool) -> Tri {
        if value { Tri::Yes } else { Tri::No }
    }
}

/// What an instance's attribute is, as far as the model knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Registered with this value (`""` for an attribute without one).
    Is(String),
    /// Not registered.
    Absent,
    /// Not known yet: a fresh instance's custom attribute, say.
    Unknown,
}

/// An instance's attributes for the query language: `attribute:<name>` and `ec2InstanceId`. A name missing
/// from the map is absent when `complete`, unknown otherwise.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes {
    pub values: HashMap<String, String>,
    pub ec2_instance_id: Option<String>,
    /// Whether every attribute is known (a registered instance), or only some (a fresh one).
    pub complete: bool,
}

impl Attributes {
    fn attribute(&self, name: &str) -> Value {
        match self.values.get(name) {
            Some(value) => Value::Is(value.clone()),
            None if self.complete => Value::Absent,
            None => Value::Unknown,
        }
    }
}

/// What an expression talks about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Attribute(String),
    Ec2InstanceId,
    /// A subject the model does not track: `task:group`, `agentVersion`, `agentConnected`, `registeredAt`,
    /// `runningTasksCount`, ...
    Untracked(String),
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Attribute(name) => write!(f, "attribute:{name}"),
            Subject::Ec2InstanceId => f.write_str("ec2InstanceId"),
            Subject::Untracked(name) => f.write_str(name),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compare {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Matches,
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expression {
    Compare { subject: Subject, op: CompareOp, value: String },
    In { subject: Subject, values: Vec<String>, negated: bool },
    Exists { subject: Subject, negated: bool },
    And(Box<Expression>, Box<Expression>),
    Or(Box<Expression>, Box<Expression>),
    Not(Box<Expression>),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompareOp(Compare);

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Compare::Eq => "==",
            Compare::Ne => "!=",
            Compare::Gt => ">",
            Compare::Ge => ">=",
            Compare::Lt => "<",
            Compare::Le => "<=",
            Compare::Matches => "=~",
        })
    }
}

/// The expression as people read it: the parse printed back, compound parts in parentheses.
impl fmt::Display for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expression::And(a, b) => write!(f, "({a} and {b})"),
            Expression::Or(a, b) => write!(f, "({a} or {b})"),
            Expression::Not(inner) => write!(f, "not {inner}"),
            Expression::Exists { subject, negated } => {
                write!(f, "{subject} {}", if *negated { "not_exists" } else { "exists" })
            }
            Expression::In { subject, values, negated } => {
                write!(f, "{subject} {} [{}]", if *negated { "not_in" } else { "in" }, values.join(", "))
            }
            Expression::Compare { subject, op, value } => write!(f, "{subject} {op} {value}"),
        }
    }
}

/// Why an expression could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("memberOf expression {expression:?}: {problem}")]
pub struct ParseError {
    pub expression: String,
    pub problem: String,
}

impl Expression {
    /// Parse a `memberOf` expression.
    pub fn parse(raw: &str) -> Result<Expression, ParseError> {
        let error = |problem: String| ParseError { expression: raw.to_owned(), problem };
        let tokens = tokenize(raw).map_err(error)?;
        let mut parser = Parser { tokens: &tokens, at: 0 };
        let expression = parser.or().map_err(error)?;
        match parser.peek() {
            None => Ok(expression),
            Some(extra) => Err(error(format!("unexpected {extra:?} after a complete expression"))),
        }
    }

    /// Whether an instance with these attributes satisfies it.
    pub fn eval(&self, attributes: &Attributes) -> Tri {
        match self {
            Expression::And(a, b) => a.eval(attributes).and(b.eval(attributes)),
            Expression::Or(a, b) => a.eval(attributes).or(b.eval(attributes)),
            Expression::Not(inner) => inner.eval(attributes).not(),
            Expression::Exists { subject, negated } => {
                let present = match value_of(subject, attributes) {
                    Value::Is(_) => Tri::Yes,
                    Value::Absent => Tri::No,
                    Value::Unknown => Tri::Unknown,
                };
                if *negated { present.not() } else { present }
            }
            Expression::In { subject, values, negated } => {
                let found = match value_of(subject, attributes) {
                    Value::Is(actual) => Tri::from(values.contains(&actual)),
                    Value::Absent => Tri::No,
                    Value::Unknown => Tri::Unknown,
                };
                if *negated { found.not() } else { found }
            }
            Expression::Compare { subject, op, value } => match (value_of(subject, attributes), op.0) {
                (Value::Unknown, _) | (_, Compare::Matches) => Tri::Unknown,
                (Value::Absent, Compare::Ne) => Tri::Yes,
                (Value::Absent, _) => Tri::No,
                (Value::Is(actual), Compare::Eq) => Tri::from(value == &actual),
                (Value::Is(actual), Compare::Ne) => Tri::from(value != &actual),
                (Value::Is(actual), order) => match (actual.parse::<f64>(), value.parse::<f64>()) {
                    (Ok(a), Ok(b)) => Tri::from(match order {
                        Compare::Gt => a > b,
                        Compare::Ge => a >= b,
                        Compare::Lt => a < b,
                        _ => a <= b,
                    }),
                    // Versions and dates compare in ways this model does not reproduce.
                    _ => Tri::Unknown,
                },
            },
        }
    }

    /// The first thing in it the model can never judge, for the decision's detail: an untracked subject or a
    /// regular expression. `None` when every clause can be judged on a registered instance.
    pub fn untracked(&self) -> Option<String> {
        match self {
            Expression::And(a, b) | Expression::Or(a, b) => a.untracked().or_else(|| b.untracked()),
            Expression::Not(inner) => inner.untracked(),
            Expression::Compare { op: CompareOp(Compare::Matches), subject, .. } => {
                Some(format!("the regular expression on {subject}"))
            }
            Expression::Compare { subject: Subject::Untracked(name), .. }
            | Expression::In { subject: Subject::Untracked(name), .. }
            | Expression::Exists { subject: Subject::Untracked(name), .. } => Some(format!("the subject {name}")),
            _ => None,
        }
    }
}

fn value_of(subject: &Subject, attributes: &Attributes) -> Value {
    match subject {
        Subject::Attribute(name) => attributes.attribute(name),
        Subject::Ec2InstanceId => match &attributes.ec2_instance_id {
            Some(id) => Value::Is(id.clone()),
            None if attributes.complete => Value::Absent,
            None => Value::Unknown,
        },
        Subject::Untracked(_) => Value::Unknown,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Quoted(String),
    Op(&'static str),
    Open,
    Close,
    ListOpen,
    ListClose,
    Comma,
}

fn tokenize(raw: &str) -> Result<Vec<Token>, String> {
    const OPERATORS: [&str; 11] = ["==", "!=", ">=", "<=", "=~", "!~", "&&", "||", ">", "<", "!"];
    let mut tokens = Vec::new();
    let mut rest = raw.trim_start();
    while let Some(c) = rest.chars().next() {
        let (token, len) = match c {
            '(' => (Token::Open, 1),
            ')' => (Token::Close, 1),
            '[' => (Token::ListOpen, 1),
            ']' => (Token::ListClose, 1),
            ',' => (Token::Comma, 1),
            '\'' | '"' => {
                let end = rest[1..].find(c).ok_or_else(|| format!("unterminated quote {c}"))?;
                (Token::Quoted(rest[1..=end].to_owned()), end + 2)
            }
            _ => match OPERATORS.iter().find(|op| rest.starts_with(**op)) {
                Some(op) => (Token::Op(op), op.len()),
                None => {
                    let end =
                        rest.find(|ch: char| ch.is_whitespace() || "()[],'\"=!<>&|".contains(ch)).unwrap_or(rest.len());
                    if end == 0 {
                        return Err(format!("unexpected character {c:?}"));
                    }
                    (Token::Word(rest[..end].to_owned()), end)
                }
            },
        };
        tokens.push(token);
        rest = rest[len..].trim_start();
    }
    Ok(tokens)
}

struct Parser<'a> {
    tokens: &'a [Token],
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn keyword(&self, words: &[&str], ops: &[&str]) -> bool {
        match self.peek() {
            Some(Token::Word(w)) => words.iter().any(|k| w.eq_ignore_ascii_case(k)),
            Some(Token::Op(op)) => ops.contains(op),
            _ => false,
        }
    }

    fn or(&mut self) -> Result<Expression, String> {
        let mut left = self.and()?;
        while self.keyword(&["or"], &["||"]) {
            self.at += 1;
            left = Expression::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expression, String> {
        let mut left = self.not()?;
        while self.keyword(&["and"], &["&&"]) {
            self.at += 1;
            left = Expression::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expression, String> {
        if self.keyword(&["not"], &["!"]) {
            self.at += 1;
            return Ok(Expression::Not(Box::new(self.not()?)));
        }
        if self.peek() == Some(&Token::Open) {
            self.at += 1;
            let inner = self.or()?;
            return match self.next() {
                Some(Token::Close) => Ok(inner),
                other => Err(format!("expected ')' but found {other:?}")),
            };
        }
        self.clause()
    }

    fn value(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Token::Word(w) | Token::Quoted(w)) => Ok(w),
            other => Err(format!("expected a value but found {other:?}")),
        }
    }

    fn clause(&mut self) -> Result<Expression, String> {
        let subject = match self.next() {
            Some(Token::Word(word)) => subject(&word),
            other => return Err(format!("expected a subject but found {other:?}")),
        };
        let op = match self.next() {
            // `!exists`, `!in` and `!~` are the negated forms.
            Some(Token::Op("!")) => match self.next() {
                Some(Token::Word(word)) if word.eq_ignore_ascii_case("exists") => {
                    return Ok(Expression::Exists { subject, negated: true });
                }
                Some(Token::Word(word)) if word.eq_ignore_ascii_case("in") => {
                    return Ok(Expression::In { subject, values: self.list()?, negated: true });
                }
                other => return Err(format!("unexpected {other:?} after {subject} !")),
            },
            Some(Token::Op(op)) => op,
            Some(Token::Word(word)) => match word.to_ascii_lowercase().as_str() {
                "exists" => return Ok(Expression::Exists { subject, negated: false }),
                "not_exists" => return Ok(Expression::Exists { subject, negated: true }),
                "in" => return Ok(Expression::In { subject, values: self.list()?, negated: false }),
                "not_in" => return Ok(Expression::In { subject, values: self.list()?, negated: true }),
                "equals" => "==",
                "not_equals" => "!=",
                "greater_than" => ">",
                "greater_than_equal" => ">=",
                "less_than" => "<",
                "less_than_equal" => "<=",
                "matches" => "=~",
                "not_matches" => "!~",
                _ => return Err(format!("unknown operator {word:?} after {subject}")),
            },
            other => return Err(format!("expected an operator after {subject} but found {other:?}")),
        };
        let compare = match op {
            "==" => Compare::Eq,
            "!=" => Compare::Ne,
            ">" => Compare::Gt,
            ">=" => Compare::Ge,
            "<" => Compare::Lt,
            "<=" => Compare::Le,
            "=~" | "!~" => Compare::Matches,
            other => return Err(format!("unexpected {other:?} after {subject}")),
        };
        Ok(Expression::Compare { subject, op: CompareOp(compare), value: self.value()? })
    }

    fn list(&mut self) -> Result<Vec<String>, String> {
        if self.next() != Some(Token::ListOpen) {
            return Err("expected '[' to open a list".into());
        }
        let mut values = vec![self.value()?];
        loop {
            match self.next() {
                Some(Token::Comma) => values.push(self.value()?),
                Some(Token::ListClose) => return Ok(values),
                other => return Err(format!("expected ',' or ']' in a list but found {other:?}")),
            }
        }
    }
}

fn subject(word: &str) -> Subject {
    match word.strip_prefix("attribute:") {
        Some(name) => Subject::Attribute(name.to_owned()),
        None if word == "ec2InstanceId" => Subject::Ec2InstanceId,
        None => Subject::Untracked(word.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registered(pairs: &[(&str, &str)]) -> Attributes {
        Attributes {
            values: pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ec2_instance_id: Some("i-0abc".into()),
            complete: true,
        }
    }

    fn eval(expression: &str, attributes: &Attributes) -> Tri {
        Expression::parse(expression).unwrap_or_else(|e| panic!("{e}")).eval(attributes)
    }

    fn m5_large() -> Attributes {
        registered(&[
            ("ecs.instance-type", "m5.large"),
            ("ecs.availability-zone", "us-east-1a"),
            ("ecs.os-type", "linux"),
            ("ecs.cpu-architecture", "x86_64"),
            ("ecs.ami-id", "ami-1"),
            ("team", "payments"),
            ("gpu-ready", ""),
        ])
    }

    #[test]
    fn equality_lists_and_existence_follow_the_instance_s_attributes() {
        let i = m5_large();
        assert_eq!(eval("attribute:ecs.instance-type == m5.large", &i), Tri::Yes);
        assert_eq!(eval("attribute:ecs.instance-type == m5.xlarge", &i), Tri::No);
        assert_eq!(eval("attribute:ecs.instance-type != m5.xlarge", &i), Tri::Yes);
        assert_eq!(eval("attribute:ecs.availability-zone in [us-east-1a, us-east-1b]", &i), Tri::Yes);
        assert_eq!(eval("attribute:ecs.availability-zone not_in ['us-east-1a']", &i), Tri::No);
        assert_eq!(eval("attribute:gpu-ready exists", &i), Tri::Yes);
        assert_eq!(eval("attribute:spot not_exists", &i), Tri::Yes);
        assert_eq!(eval("attribute:spot == true", &i), Tri::No);
        assert_eq!(eval("attribute:spot != true", &i), Tri::Yes);
        assert_eq!(eval("ec2InstanceId in [i-0abc, i-0def]", &i), Tri::Yes);
        // `==` is string equality (patterns are `=~`, which the model does not judge).
        assert_eq!(eval("attribute:ecs.instance-type == m5.*", &i), Tri::No);
        assert_eq!(eval("attribute:ecs.instance-type equals m5.large", &i), Tri::Yes);
        assert_eq!(eval("attribute:ecs.instance-type not_equals m5.large", &i), Tri::No);
        assert_eq!(eval("attribute:team !in [search, ads]", &i), Tri::Yes);
        assert_eq!(eval("attribute:spot !exists", &i), Tri::Yes);
        assert_eq!(eval("not(attribute:team == payments)", &i), Tri::No);
    }

    #[test]
    fn and_or_not_and_parentheses_combine_with_and_binding_tighter() {
        let i = m5_large();
        assert_eq!(eval("attribute:team == payments and attribute:ecs.os-type == linux", &i), Tri::Yes);
        assert_eq!(eval("attribute:team == search && attribute:ecs.os-type == linux", &i), Tri::No);
        assert_eq!(eval("attribute:team == search or attribute:ecs.os-type == linux", &i), Tri::Yes);
        // a or b and c is a or (b and c).
        assert_eq!(eval("attribute:team == payments || attribute:team == x && attribute:team == y", &i), Tri::Yes);
        assert_eq!(eval("(attribute:team == payments || attribute:team == x) && attribute:team == y", &i), Tri::No);
        assert_eq!(eval("not (attribute:team == payments)", &i), Tri::No);
        assert_eq!(eval("!(attribute:ecs.cpu-architecture == arm64)", &i), Tri::Yes);
    }

    #[test]
    fn what_the_model_does_not_track_is_unknown_never_yes() {
        let i = m5_large();
        assert_eq!(eval("task:group == service:api", &i), Tri::Unknown);
        assert_eq!(eval("attribute:ecs.instance-type =~ m5.*", &i), Tri::Unknown);
        assert_eq!(eval("agentVersion >= 1.80.0", &i), Tri::Unknown);
        // Unknown decides nothing unless the other side does.
        assert_eq!(eval("task:group == service:api and attribute:team == search", &i), Tri::No);
        assert_eq!(eval("task:group == service:api or attribute:team == payments", &i), Tri::Yes);
        assert_eq!(eval("task:group == service:api and attribute:team == payments", &i), Tri::Unknown);
        let parsed = Expression::parse("attribute:a == b and task:group == service:x").unwrap();
        assert_eq!(parsed.untracked().as_deref(), Some("the subject task:group"));
        assert_eq!(Expression::parse("attribute:a == b").unwrap().untracked(), None);
    }

    #[test]
    fn numbers_compare_as_numbers() {
        let i = registered(&[("size", "16")]);
        assert_eq!(eval("attribute:size >= 8", &i), Tri::Yes);
        assert_eq!(eval("attribute:size < 8", &i), Tri::No);
        assert_eq!(eval("attribute:missing > 1", &i), Tri::No);
    }

    #[test]
    fn a_fresh_instance_knows_only_some_of_its_attributes() {
        let fresh = Attributes {
            values: [("ecs.instance-type".to_string(), "m5.xlarge".to_string())].into(),
            ec2_instance_id: None,
            complete: false,
        };
        assert_eq!(eval("attribute:ecs.instance-type == m5.xlarge", &fresh), Tri::Yes);
        assert_eq!(eval("attribute:ecs.instance-type == m5.large", &fresh), Tri::No);
        assert_eq!(eval("attribute:team == payments", &fresh), Tri::Unknown);
        assert_eq!(eval("attribute:team not_exists", &fresh), Tri::Unknown);
    }

    #[test]
    fn malformed_expressions_are_errors_that_say_what_is_wrong() {
        let error = |raw: &str| Expression::parse(raw).unwrap_err().to_string();
        assert!(error("attribute:a ==").contains("expected a value"), "{}", error("attribute:a =="));
        assert!(error("attribute:a in [x, y").contains("expected ',' or ']'"));
        assert!(error("attribute:a like b").contains("unknown operator \"like\""));
        assert!(error("(attribute:a == b").contains("expected ')'"));
        assert!(error("attribute:a == 'b").contains("unterminated quote"));
        assert!(error("attribute:a == b c").contains("after a complete expression"));
        assert!(error("").contains("expected a subject"));
    }
}
