//! The `certificate` subject file of `createMirrorRegistry.sh`.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result, read_err};

/// The distinguished name fields of the server certificate, as read from the script's
/// `certificate` file:
///
/// ```text
/// countrycode=US
/// state=North Carolina
/// locality=Raleigh
/// organization="Example, Inc."
/// unit=IT
/// ```
///
/// [`Subject::default`] has every field empty; empty fields are left out of the certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Subject {
    /// `countrycode`: two ASCII letters, stored upper case (`C`).
    pub country: String,
    /// `state` (`ST`).
    pub state: String,
    /// `locality` (`L`).
    pub locality: String,
    /// `organization` (`O`).
    pub organization: String,
    /// `unit` (`OU`).
    pub unit: String,
}

const KEYS: [&str; 5] = ["countrycode", "state", "locality", "organization", "unit"];

impl Subject {
    /// Parses the text of a `certificate` file.
    ///
    /// One `key=value` per line; spaces around `=` and single or double quotes around the
    /// value are allowed, keys are case-insensitive, lines starting with `#` and blank lines
    /// are ignored, CRLF line ends are accepted. Every key must be present exactly once with a
    /// non-empty value.
    pub fn parse(text: &str) -> Result<Subject> {
        parse(text, None)
    }

    /// Reads and parses a `certificate` file; errors name the file.
    pub fn from_file(path: &Path) -> Result<Subject> {
        let text = std::fs::read_to_string(path).map_err(read_err(path))?;
        parse(&text, Some(path))
    }
}

fn parse(text: &str, path: Option<&Path>) -> Result<Subject> {
    let path = || path.map(PathBuf::from);
    // For each of KEYS: (line, value) once seen.
    let mut seen: [Option<(usize, String)>; 5] = Default::default();
    for (index, raw) in text.split('\n').enumerate() {
        let line = index + 1;
        let trimmed = raw.strip_suffix('\r').unwrap_or(raw).trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let Some((key, value)) = trimmed.split_once('=') else {
            return Err(Error::SubjectSyntax {
                path: path(),
                line,
                text: trimmed.to_string(),
            });
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(Error::SubjectSyntax {
                path: path(),
                line,
                text: trimmed.to_string(),
            });
        }
        let Some(slot) = KEYS.iter().position(|k| k.eq_ignore_ascii_case(key)) else {
            return Err(Error::SubjectUnknownKey {
                path: path(),
                line,
                key: key.to_string(),
            });
        };
        if let Some((first, _)) = &seen[slot] {
            return Err(Error::SubjectDuplicateKey {
                path: path(),
                line,
                key: KEYS[slot].to_string(),
                first: *first,
            });
        }
        let value = unquote(value.trim()).ok_or_else(|| Error::SubjectUnbalancedQuote {
            path: path(),
            line,
            key: KEYS[slot].to_string(),
            value: value.trim().to_string(),
        })?;
        if value.is_empty() {
            return Err(Error::SubjectEmptyValue {
                path: path(),
                line,
                key: KEYS[slot].to_string(),
            });
        }
        let value = if slot == 0 {
            if value.len() != 2 || !value.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err(Error::SubjectBadCountry {
                    path: path(),
                    line,
                    value: value.to_string(),
                });
            }
            value.to_ascii_uppercase()
        } else {
            value.to_string()
        };
        seen[slot] = Some((line, value));
    }
    let [country, state, locality, organization, unit] = seen;
    let take = |value: Option<(usize, String)>, key: &'static str| {
        value
            .map(|(_, value)| value)
            .ok_or_else(|| Error::SubjectMissingKey { path: path(), key })
    };
    Ok(Subject {
        country: take(country, KEYS[0])?,
        state: take(state, KEYS[1])?,
        locality: take(locality, KEYS[2])?,
        organization: take(organization, KEYS[3])?,
        unit: take(unit, KEYS[4])?,
    })
}

/// Strips one pair of matching quotes; `None` when the value opens a quote it does not close.
fn unquote(value: &str) -> Option<&str> {
    match value.chars().next() {
        Some(quote @ ('"' | '\'')) if value.len() >= 2 && value.ends_with(quote) => {
            Some(&value[1..value.len() - 1])
        }
        Some('"' | '\'') => None,
        _ => Some(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(c: &str, st: &str, l: &str, o: &str, ou: &str) -> Subject {
        Subject {
            country: c.into(),
            state: st.into(),
            locality: l.into(),
            organization: o.into(),
            unit: ou.into(),
        }
    }

    #[test]
    fn parses_good_files() {
        let cases: &[(&str, &str, Subject)] = &[
            (
                "plain, as the script writes it",
                "countrycode=US\nstate=NC\nlocality=Raleigh\norganization=Example\nunit=IT\n",
                subject("US", "NC", "Raleigh", "Example", "IT"),
            ),
            (
                "spaces around = and values, quotes, comments, blank lines",
                "# mirror registry certificate subject\n\n  countrycode = us\n\
                 state = \"North Carolina\"\n   # a comment\nlocality='Raleigh'\n\
                 organization = \"Example, Inc. # not a comment\"\nunit=Platform Team  \n\n",
                subject(
                    "US",
                    "North Carolina",
                    "Raleigh",
                    "Example, Inc. # not a comment",
                    "Platform Team",
                ),
            ),
            (
                "CRLF, upper-case keys, no final newline, = in a value",
                "COUNTRYCODE=de\r\nState=Berlin\r\nlocality=Berlin\r\n\
                 organization=a=b\r\nunit=\"it's\"",
                subject("DE", "Berlin", "Berlin", "a=b", "it's"),
            ),
        ];
        for (name, text, want) in cases {
            assert_eq!(&Subject::parse(text).unwrap(), want, "{name}");
        }
    }

    #[test]
    fn rejects_bad_files_with_the_line_and_key() {
        let good = "countrycode=US\nstate=NC\nlocality=Raleigh\norganization=Example\nunit=IT\n";
        let cases: &[(&str, String, &str)] = &[
            (
                "missing key",
                good.replace("unit=IT\n", ""),
                "missing key `unit`",
            ),
            (
                "empty value",
                good.replace("state=NC", "state ="),
                "line 2: empty value for `state`",
            ),
            (
                "empty quoted value",
                good.replace("state=NC", "state=\"\""),
                "line 2: empty value for `state`",
            ),
            (
                "unknown key",
                format!("{good}# ok\ncolour=blue\n"),
                "line 7: unknown key `colour`",
            ),
            (
                "duplicate key",
                format!("{good}\nLocality=Durham\n"),
                "line 7: duplicate key `locality` (first set on line 3)",
            ),
            (
                "country code of three letters",
                good.replace("countrycode=US", "countrycode=USA"),
                "line 1: country code `USA` is not two ASCII letters",
            ),
            (
                "country code with a digit",
                good.replace("countrycode=US", "countrycode='U1'"),
                "line 1: country code `U1` is not two ASCII letters",
            ),
            (
                "no =",
                good.replace("unit=IT", "unit IT"),
                "line 5: expected `key=value`, found `unit IT`",
            ),
            (
                "no key",
                good.replace("unit=IT", " = IT"),
                "line 5: expected `key=value`, found `= IT`",
            ),
            (
                "unbalanced quote",
                good.replace("organization=Example", "organization=\"Example"),
                "line 4: unbalanced quote in value for `organization`: `\"Example`",
            ),
        ];
        for (name, text, want) in cases {
            let err = Subject::parse(text).unwrap_err();
            assert_eq!(err.to_string(), *want, "{name}");
        }
    }

    #[test]
    fn file_errors_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("certificate");
        std::fs::write(&path, "countrycode=USA\n").unwrap();
        let err = Subject::from_file(&path).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "`{}` line 1: country code `USA` is not two ASCII letters",
                path.display()
            )
        );
        assert_eq!(
            err.hint().as_deref(),
            Some("use a two-letter ISO 3166 country code such as `US` or `DE`")
        );

        std::fs::write(&path, "countrycode=US\n").unwrap();
        let err = Subject::from_file(&path).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("`{}`: missing key `state`", path.display())
        );

        let missing = dir.path().join("nope");
        let err = Subject::from_file(&missing).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("cannot read `{}`", missing.display())
        );
    }
}
