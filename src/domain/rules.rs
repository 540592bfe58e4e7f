//! `[[rules]]`: operator-written regular expressions that set priority and
//! category and extract named values (an error code, a transaction hash, a
//! device) into the ticket's `fields`. Compiled once at start, never per mail.

use std::collections::BTreeMap;

use regex::Regex;
use serde::Deserialize;

use super::message::InboundMessage;
use super::model::Priority;

/// One `[[rules]]` entry as the operator wrote it (DESIGN §5): a regular
/// expression on one part of the mail that sets priority and category and
/// copies named capture groups into `fields`. The config reads it; the core
/// owns it, so that compiling rules needs nothing from the config module.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    #[serde(default)]
    pub name: Option<String>,
    /// `from`, `to`, `subject`, `body`, or `header:<Name>`.
    pub field: String,
    pub pattern: String,
    pub priority: Option<String>,
    pub category: Option<String>,
}

/// Which part of the mail a rule reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleField {
    From,
    To,
    Subject,
    Body,
    /// Any header, by name (case-insensitive).
    Header(String),
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub field: RuleField,
    pub regex: Regex,
    pub priority: Option<Priority>,
    pub category: Option<String>,
}

/// What the matching rules decided for one mail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleOutcome {
    pub priority: Option<Priority>,
    pub category: Option<String>,
    pub fields: BTreeMap<String, String>,
    /// Names of the rules that matched, in config order.
    pub matched: Vec<String>,
}

impl Rule {
    /// Compiles one `[[rules]]` entry; errors are `(key, message)` pairs.
    pub fn compile(cfg: &RuleConfig) -> Result<Rule, Vec<(String, String)>> {
        let mut problems = Vec::new();
        let field = match cfg.field.trim().to_ascii_lowercase().as_str() {
            "from" => Some(RuleField::From),
            "to" => Some(RuleField::To),
            "subject" => Some(RuleField::Subject),
            "body" => Some(RuleField::Body),
            other => match other.strip_prefix("header:").map(str::trim) {
                Some(name) if !name.is_empty() => Some(RuleField::Header(name.to_owned())),
                _ => {
                    problems.push((
                        "field".to_owned(),
                        format!(
                            "{:?} is not a field: use from, to, subject, body or header:<Name>",
                            cfg.field
                        ),
                    ));
                    None
                }
            },
        };
        let regex = match regex::RegexBuilder::new(&cfg.pattern)
            .size_limit(1 << 20)
            .build()
        {
            Ok(r) => Some(r),
            Err(e) => {
                problems.push((
                    "pattern".to_owned(),
                    format!("not a valid regular expression: {e}"),
                ));
                None
            }
        };
        let priority = match cfg.priority.as_deref().map(str::parse::<Priority>) {
            None => None,
            Some(Ok(p)) => Some(p),
            Some(Err(e)) => {
                problems.push(("priority".to_owned(), e.to_string()));
                None
            }
        };
        if cfg.priority.is_none()
            && cfg.category.is_none()
            && regex
                .as_ref()
                .is_some_and(|r| r.capture_names().flatten().next().is_none())
        {
            problems.push((
                "pattern".to_owned(),
                "this rule changes nothing: set priority or category, or add a named group (?P<name>...) to extract a field".to_owned(),
            ));
        }
        match (field, regex, problems.is_empty()) {
            (Some(field), Some(regex), true) => Ok(Rule {
                name: cfg
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("{}~{}", cfg.field, cfg.pattern)),
                field,
                regex,
                priority,
                category: cfg.category.clone(),
            }),
            _ => Err(problems),
        }
    }
}

/// Compiles every rule of a validated config.
pub fn compile_all(cfgs: &[RuleConfig]) -> Vec<Rule> {
    cfgs.iter().filter_map(|c| Rule::compile(c).ok()).collect()
}

/// Runs every rule over the mail. A later rule's priority only raises the
/// priority (a matching "urgent" rule is never undone by a "low" one); the
/// first category set wins; fields accumulate, first value per name.
pub fn evaluate(rules: &[Rule], msg: &InboundMessage<'_>, body: &str) -> RuleOutcome {
    let mut out = RuleOutcome::default();
    for rule in rules {
        let text: std::borrow::Cow<'_, str> = match &rule.field {
            RuleField::From => msg
                .from
                .as_ref()
                .map(|m| m.to_string().into())
                .unwrap_or_default(),
            RuleField::To => msg
                .to
                .iter()
                .chain(&msg.cc)
                .map(|m| m.to_string())
                .collect::<Vec<_>>()
                .join(", ")
                .into(),
            RuleField::Subject => msg.subject.as_str().into(),
            RuleField::Body => body.into(),
            RuleField::Header(name) => msg.header_text(name).unwrap_or_default().into(),
        };
        let Some(caps) = rule.regex.captures(&text) else {
            continue;
        };
        out.matched.push(rule.name.clone());
        if let Some(p) = rule.priority {
            out.priority = Some(out.priority.map_or(p, |cur| cur.max(p)));
        }
        if out.category.is_none() {
            out.category.clone_from(&rule.category);
        }
        for name in rule.regex.capture_names().flatten() {
            if let Some(m) = caps.name(name) {
                out.fields
                    .entry(name.to_owned())
                    .or_insert_with(|| m.as_str().to_owned());
            }
        }
    }
    out
}
