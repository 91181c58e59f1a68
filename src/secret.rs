//! Client secrets, refresh tokens and access tokens: values that must never reach a log, an
//! error message or `Debug` output.

use std::fmt;
use std::path::Path;

/// A secret string. `Debug` and `Display` print `<redacted>`; the value is reachable only
/// through [`Secret::expose`], which makes every use visible in the code.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`; from here on it prints as `<redacted>`.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself, for the one place that must send it (a token request, a header).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the value is the empty string, without exposing it.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A secret kept in a file (`client_secret_file`): its text without surrounding whitespace,
    /// which must not be empty. The error names the file, never its content.
    pub fn read_file(path: &Path) -> Result<Secret, SecretFileError> {
        match std::fs::read_to_string(path) {
            Ok(v) if !v.trim().is_empty() => Ok(Secret::new(v.trim())),
            Ok(_) => Err(SecretFileError::Empty {
                path: path.display().to_string(),
            }),
            Err(source) => Err(SecretFileError::Read {
                path: path.display().to_string(),
                source,
            }),
        }
    }
}

/// A secret file that holds no secret now. Names the file, never its content.
#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    /// The file holds nothing but white space.
    #[error("{path} is empty")]
    Empty {
        /// The file (`client_secret_file`).
        path: String,
    },
    /// The file cannot be read (missing, permissions).
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file (`client_secret_file`).
        path: String,
        /// Why reading failed.
        source: std::io::Error,
    },
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints() {
        let s = Secret::new("hunter2-very-secret");
        assert_eq!(
            format!("{s:?} {s} {:?}", Some(&s)),
            "<redacted> <redacted> Some(<redacted>)"
        );
        assert_eq!(s.expose(), "hunter2-very-secret");
    }
}
