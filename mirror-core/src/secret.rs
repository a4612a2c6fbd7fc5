//! Secrets read from files and streams: one line, exactly one line ending dropped.

use std::path::Path;

use crate::error::Error;

/// `text` without exactly one trailing `\n` or `\r\n`; `None` when a second line follows,
/// which is almost always a file of the wrong kind (a whole config, two passwords): a
/// password is never silently cut short. Other whitespace is part of the secret.
pub fn secret_line(text: &str) -> Option<&str> {
    let line = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(text);
    (!line.contains('\n')).then_some(line)
}

/// Reads a password file: its one line ([`secret_line`]). A file with more lines is
/// [`Error::SecretFile`] naming it; no error ever holds the secret.
pub fn read_secret_file(path: &Path) -> Result<String, Error> {
    let text =
        std::fs::read_to_string(path).map_err(|e| Error::io("read password file", path, e))?;
    secret_line(&text)
        .map(str::to_string)
        .ok_or_else(|| Error::SecretFile {
            path: path.to_path_buf(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_drops_exactly_one_line_ending() {
        for (text, want) in [
            ("pw\n", Some("pw")),
            ("pw\r\n", Some("pw")),
            ("pw", Some("pw")),
            (" pw \n", Some(" pw ")),
            ("pw\r", Some("pw\r")),
            ("", Some("")),
            ("pw\n\n", None),
            ("pw\nrest", None),
            ("pw\nrest\n", None),
        ] {
            assert_eq!(secret_line(text), want, "{text:?}");
        }
    }

    #[test]
    fn a_file_with_two_lines_is_refused_naming_it_never_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "s3cret\nother\n").unwrap();
        let e = read_secret_file(&path).unwrap_err();
        let text = crate::ErrorChain(&e).to_string();
        assert_eq!(
            text,
            format!(
                "password file `{}` has more than one line: a password is one line (a final newline is dropped)",
                path.display()
            )
        );
        assert!(e.is_usage() && !text.contains("s3cret"));
        std::fs::write(&path, "s3cret\n").unwrap();
        assert_eq!(read_secret_file(&path).unwrap(), "s3cret");
    }
}
