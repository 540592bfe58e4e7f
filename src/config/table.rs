//! Deserializing one table so that every wrong value is reported under its
//! own key, in words an operator knows, and the rest is still checked.

use serde::de::DeserializeOwned;

use super::Problem;

/// Deserializes one section. serde stops at the first wrong value and does
/// not say which key held it, so a failing key is found (by leaving keys out
/// one at a time, or by the value the message quotes), reported under its
/// own name, and dropped; the rest of the section is still checked, so one
/// run of `check-config` lists every problem.
pub(super) fn section<T: DeserializeOwned>(
    root: &mut toml::Table,
    name: &str,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    let mut table = match root.remove(name)? {
        toml::Value::Table(t) => t,
        other => {
            problems.push(Problem {
                key: name.to_owned(),
                message: format!("must be a section [{name}], found a {}", other.type_str()),
            });
            return None;
        }
    };
    loop {
        let e = match toml::Value::Table(table.clone()).try_into::<T>() {
            // Dropped keys fall back to defaults so the remaining checks
            // run; the problems already recorded make the load fail.
            Ok(v) => return Some(v),
            Err(e) => e,
        };
        let msg = e.message().trim().to_owned();
        if msg.starts_with("missing field") {
            problems.push(type_problem(name, &e));
            return None;
        }
        let Some(key) = culprit::<T>(&table, &msg) else {
            problems.push(type_problem(name, &e));
            return None;
        };
        problems.push(Problem {
            key: format!("{name}.{key}"),
            message: format!("{}; fix the value", humane(&msg)),
        });
        table.remove(&key);
    }
}

/// serde's Rust type names, in words an operator knows.
fn humane(msg: &str) -> String {
    let mut m = msg.to_owned();
    for (rust, words) in [
        ("expected usize", "expected a whole number, 0 or more"),
        ("expected u64", "expected a whole number, 0 or more"),
        ("expected u32", "expected a whole number, 0 or more"),
        ("expected u16", "expected a port number, 1 to 65535"),
        (
            "expected a sequence",
            "expected a list such as [\"a\", \"b\"]",
        ),
    ] {
        m = m.replace(rust, words);
    }
    m
}

/// The key whose value causes `msg`.
fn culprit<T: DeserializeOwned>(table: &toml::Table, msg: &str) -> Option<String> {
    let by_removal = table.keys().find(|k| {
        let mut t = table.clone();
        t.remove(*k);
        match toml::Value::Table(t).try_into::<T>() {
            Ok(_) => true,
            Err(e) => !e.message().starts_with("missing field") && e.message().trim() != msg,
        }
    });
    by_removal.cloned().or_else(|| {
        table
            .iter()
            .find(|(_, v)| match v {
                toml::Value::String(s) => msg.contains(&format!("{s:?}")),
                other => msg.contains(&other.to_string()),
            })
            .map(|(k, _)| k.clone())
    })
}

pub(super) fn from_empty<T: DeserializeOwned>(
    name: &str,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    section(
        &mut toml::Table::from_iter([(name.to_owned(), toml::Value::Table(toml::Table::new()))]),
        name,
        problems,
    )
}

pub(super) fn type_problem(section: &str, e: &toml::de::Error) -> Problem {
    let msg = e.message().trim().to_owned();
    // serde names a missing field in its message; make that key the key.
    let key = msg
        .strip_prefix("missing field `")
        .and_then(|r| r.split('`').next())
        .map(|field| format!("{section}.{field}"))
        .unwrap_or_else(|| section.to_owned());
    let fix = if msg.starts_with("missing field") {
        "; add it"
    } else {
        ""
    };
    Problem {
        key,
        message: format!("{msg}{fix}"),
    }
}
